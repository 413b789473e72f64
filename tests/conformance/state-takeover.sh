#!/bin/bash
# SPDX-License-Identifier: MIT
# test-state.sh "taking over system state modification":
# - load the version 1 state patch, then the version 2 one (both replace):
#   the second finds the state installed and takes it over; the first is
#   replaced without callbacks
# - disable the second: it restores console_loglevel and frees the state

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_state
MOD_LIVEPATCH2=test_klp_state2

start_target
start_test "taking over system state modification"

load_lp $MOD_LIVEPATCH
check_call console_loglevel_show "console_loglevel: 15"
load_lp $MOD_LIVEPATCH2
check_call console_loglevel_show "console_loglevel: 15"
disable_lp $MOD_LIVEPATCH2
check_call console_loglevel_show "console_loglevel: 7"

# The kernel's "% rmmod $MOD_LIVEPATCH" (the replaced patch) has no
# counterpart: the runtime unloads replaced patches itself.
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
% load patches/$MOD_LIVEPATCH2.so
livepatch: enabling patch '$MOD_LIVEPATCH2'
livepatch: '$MOD_LIVEPATCH2': initializing patching transition
$MOD_LIVEPATCH2: pre_patch_callback: vmlinux
$MOD_LIVEPATCH2: allocate_loglevel_state: space to store console_loglevel already allocated
livepatch: '$MOD_LIVEPATCH2': starting patching transition
livepatch: '$MOD_LIVEPATCH2': completing patching transition
$MOD_LIVEPATCH2: post_patch_callback: vmlinux
$MOD_LIVEPATCH2: fix_console_loglevel: taking over the console_loglevel change
livepatch: '$MOD_LIVEPATCH2': patching complete
% disable $MOD_LIVEPATCH2
livepatch: '$MOD_LIVEPATCH2': initializing unpatching transition
$MOD_LIVEPATCH2: pre_unpatch_callback: vmlinux
$MOD_LIVEPATCH2: restore_console_loglevel: restoring console_loglevel
livepatch: '$MOD_LIVEPATCH2': starting unpatching transition
livepatch: '$MOD_LIVEPATCH2': completing unpatching transition
$MOD_LIVEPATCH2: post_unpatch_callback: vmlinux
$MOD_LIVEPATCH2: free_loglevel_state: freeing space for the stored console_loglevel
livepatch: '$MOD_LIVEPATCH2': unpatching complete"

pass
