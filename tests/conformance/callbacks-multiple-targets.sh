#!/bin/bash
# SPDX-License-Identifier: MIT
# test-callbacks.sh "multiple target modules":
# - the target loads the busy library, whose thread enters and leaves
#   busymod_work_func() (the kernel's block_transition=N)
# - load the patch: callbacks for the main executable and the busy library
# - the target loads and unloads the other library (coming, going)
# - disable: callbacks for the main executable and the busy library;
#   unload the busy library

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_callbacks_demo
MOD_TARGET=test_klp_callbacks_mod
MOD_TARGET_BUSY=test_klp_callbacks_busy
TLIB=lib$MOD_TARGET.so
BLIB=lib$MOD_TARGET_BUSY.so

start_target
start_test "multiple target modules"

load_mod $MOD_TARGET_BUSY
expect_ok "busy start"
expect_ok "busy stop"
load_lp $MOD_LIVEPATCH
load_mod $MOD_TARGET
unload_mod $MOD_TARGET
disable_lp $MOD_LIVEPATCH
unload_mod $MOD_TARGET_BUSY

check_result "% dlopen $BLIB
$MOD_TARGET_BUSY: ${MOD_TARGET_BUSY}_init
% busy start
$MOD_TARGET_BUSY: busymod_work_func enter
% busy stop
$MOD_TARGET_BUSY: busymod_work_func exit
% load patches/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
$MOD_LIVEPATCH: pre_patch_callback: vmlinux
$MOD_LIVEPATCH: pre_patch_callback: $BLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
$MOD_LIVEPATCH: post_patch_callback: vmlinux
$MOD_LIVEPATCH: post_patch_callback: $BLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': patching complete
% dlopen $TLIB
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$TLIB'
$MOD_LIVEPATCH: pre_patch_callback: $TLIB -> $STATE_COMING
$MOD_LIVEPATCH: post_patch_callback: $TLIB -> $STATE_COMING
$MOD_TARGET: ${MOD_TARGET}_init
% dlclose $TLIB
$MOD_TARGET: ${MOD_TARGET}_exit
$MOD_LIVEPATCH: pre_unpatch_callback: $TLIB -> $STATE_GOING
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$TLIB'
$MOD_LIVEPATCH: post_unpatch_callback: $TLIB -> $STATE_GOING
% disable $MOD_LIVEPATCH
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
$MOD_LIVEPATCH: pre_unpatch_callback: vmlinux
$MOD_LIVEPATCH: pre_unpatch_callback: $BLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
$MOD_LIVEPATCH: post_unpatch_callback: vmlinux
$MOD_LIVEPATCH: post_unpatch_callback: $BLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': unpatching complete
% dlclose $BLIB
$MOD_TARGET_BUSY: ${MOD_TARGET_BUSY}_exit"

pass
