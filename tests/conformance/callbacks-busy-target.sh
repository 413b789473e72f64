#!/bin/bash
# SPDX-License-Identifier: MIT
# test-callbacks.sh "busy target module":
# - the target loads the busy library; its thread enters
#   busymod_work_func() and stays there (the kernel's block_transition=Y)
# - load the patch, which replaces busymod_work_func(): the transition
#   stalls ("uklp list" shows transition 1)
# - the target loads and unloads the other library meanwhile: pre_patch but
#   no post_patch while coming, no pre_unpatch but post_unpatch while going
# - disable: the transition is reversed, only post_unpatch callbacks run
# - let the busy thread leave; unload the busy library

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_callbacks_demo
MOD_TARGET=test_klp_callbacks_mod
MOD_TARGET_BUSY=test_klp_callbacks_busy
TLIB=lib$MOD_TARGET.so
BLIB=lib$MOD_TARGET_BUSY.so
ETIMEDOUT=-110

start_target
start_test "busy target module"

load_mod $MOD_TARGET_BUSY
expect_ok "busy start"
load_lp_nowait $MOD_LIVEPATCH
loop_until '[[ $(list_value $MOD_LIVEPATCH/transition) == 1 ]]' ||
	die "failed to stall transition"
expect_err $ETIMEDOUT "wait 500"
check_list_value "$MOD_LIVEPATCH/transition" 1

load_mod $MOD_TARGET
unload_mod $MOD_TARGET
disable_lp $MOD_LIVEPATCH
expect_ok "busy stop"
unload_mod $MOD_TARGET_BUSY

check_result "% dlopen $BLIB
$MOD_TARGET_BUSY: ${MOD_TARGET_BUSY}_init
% busy start
$MOD_TARGET_BUSY: busymod_work_func enter
% load patches/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
$MOD_LIVEPATCH: pre_patch_callback: vmlinux
$MOD_LIVEPATCH: pre_patch_callback: $BLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': starting patching transition
% dlopen $TLIB
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$TLIB'
$MOD_LIVEPATCH: pre_patch_callback: $TLIB -> $STATE_COMING
$MOD_TARGET: ${MOD_TARGET}_init
% dlclose $TLIB
$MOD_TARGET: ${MOD_TARGET}_exit
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$TLIB'
$MOD_LIVEPATCH: post_unpatch_callback: $TLIB -> $STATE_GOING
% disable $MOD_LIVEPATCH
livepatch: '$MOD_LIVEPATCH': reversing transition from patching to unpatching
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
$MOD_LIVEPATCH: post_unpatch_callback: vmlinux
$MOD_LIVEPATCH: post_unpatch_callback: $BLIB -> $STATE_LIVE
livepatch: '$MOD_LIVEPATCH': unpatching complete
% busy stop
$MOD_TARGET_BUSY: busymod_work_func exit
% dlclose $BLIB
$MOD_TARGET_BUSY: ${MOD_TARGET_BUSY}_exit"

pass
