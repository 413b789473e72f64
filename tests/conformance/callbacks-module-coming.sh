#!/bin/bash
# SPDX-License-Identifier: MIT
# test-callbacks.sh "module_coming notifier":
# - load the patch: callbacks for the main executable only
# - the target loads the library: "applying patch", then pre/post_patch
#   for it (state: coming) before its constructor runs
# - disable: pre/post_unpatch for both (the library is loaded by now);
#   unload the library

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_callbacks_demo
MOD_TARGET=test_klp_callbacks_mod
TLIB=lib$MOD_TARGET.so

start_target
start_test "module_coming notifier"

load_lp $MOD_LIVEPATCH
load_mod $MOD_TARGET
disable_lp $MOD_LIVEPATCH
unload_mod $MOD_TARGET

check_result "% load patches/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
$MOD_LIVEPATCH: pre_patch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
$MOD_LIVEPATCH: post_patch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH': patching complete
% dlopen $TLIB
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$TLIB'
$MOD_LIVEPATCH: pre_patch_callback: $TLIB -> $STATE_COMING
$MOD_LIVEPATCH: post_patch_callback: $TLIB -> $STATE_COMING
$MOD_TARGET: ${MOD_TARGET}_init
% disable $MOD_LIVEPATCH
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
$MOD_LIVEPATCH: pre_unpatch_callback: vmlinux
$MOD_LIVEPATCH: pre_unpatch_callback: $TLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
$MOD_LIVEPATCH: post_unpatch_callback: vmlinux
$MOD_LIVEPATCH: post_unpatch_callback: $TLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': unpatching complete
% dlclose $TLIB
$MOD_TARGET: ${MOD_TARGET}_exit"

pass
