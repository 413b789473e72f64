#!/bin/bash
# SPDX-License-Identifier: MIT
# test-state.sh "system state modification":
# - load a patch that installs the state console_loglevel (version 1):
#   its callbacks allocate the state, change the target's console_loglevel
# - disable it: they restore console_loglevel and free the state

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_state

start_target
start_test "system state modification"

check_call console_loglevel_show "console_loglevel: 7"
load_lp $MOD_LIVEPATCH
check_call console_loglevel_show "console_loglevel: 15"
disable_lp $MOD_LIVEPATCH
check_call console_loglevel_show "console_loglevel: 7"

check_result "% load patches/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
$MOD_LIVEPATCH: pre_patch_callback: vmlinux
$MOD_LIVEPATCH: allocate_loglevel_state: allocating space to store console_loglevel
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
$MOD_LIVEPATCH: post_patch_callback: vmlinux
$MOD_LIVEPATCH: fix_console_loglevel: fixing console_loglevel
livepatch: '$MOD_LIVEPATCH': patching complete
% disable $MOD_LIVEPATCH
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
$MOD_LIVEPATCH: pre_unpatch_callback: vmlinux
$MOD_LIVEPATCH: restore_console_loglevel: restoring console_loglevel
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
$MOD_LIVEPATCH: post_unpatch_callback: vmlinux
$MOD_LIVEPATCH: free_loglevel_state: freeing space for the stored console_loglevel
livepatch: '$MOD_LIVEPATCH': unpatching complete"

pass
