#!/bin/bash
# SPDX-License-Identifier: MIT
# test-callbacks.sh "module_going notifier":
# - the target loads the library, then the patch: callbacks for both
# - the target unloads the library: its destructor runs, then pre_unpatch
#   (state: going), "reverting patch", post_unpatch
# - disable: callbacks for the main executable only

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_callbacks_demo
MOD_TARGET=test_klp_callbacks_mod
TLIB=lib$MOD_TARGET.so

start_target
start_test "module_going notifier"

load_mod $MOD_TARGET
load_lp $MOD_LIVEPATCH
unload_mod $MOD_TARGET
disable_lp $MOD_LIVEPATCH

check_result "% dlopen $TLIB
$MOD_TARGET: ${MOD_TARGET}_init
% load patches/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
$MOD_LIVEPATCH: pre_patch_callback: vmlinux
$MOD_LIVEPATCH: pre_patch_callback: $TLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
$MOD_LIVEPATCH: post_patch_callback: vmlinux
$MOD_LIVEPATCH: post_patch_callback: $TLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': patching complete
% dlclose $TLIB
$MOD_TARGET: ${MOD_TARGET}_exit
$MOD_LIVEPATCH: pre_unpatch_callback: $TLIB -> $STATE_GOING
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$TLIB'
$MOD_LIVEPATCH: post_unpatch_callback: $TLIB -> $STATE_GOING
% disable $MOD_LIVEPATCH
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
$MOD_LIVEPATCH: pre_unpatch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
$MOD_LIVEPATCH: post_unpatch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH': unpatching complete"

pass
