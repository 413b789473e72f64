#!/bin/bash
# SPDX-License-Identifier: MIT
# test-state.sh "incompatible cumulative livepatches":
# - load state2 (state version 2)
# - loading state (version 1) is refused before "enabling patch", with
#   -EINVAL; nothing changes
# - disable state2
#
# The kernel's transcript has insmod's "could not insert module ... Invalid
# parameters" line: here the load's error code is checked instead.

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_state
MOD_LIVEPATCH2=test_klp_state2

start_target
start_test "incompatible cumulative livepatches"

load_lp $MOD_LIVEPATCH2
load_failing_lp -22 $MOD_LIVEPATCH
check_call console_loglevel_show "console_loglevel: 15"
nmods=$(count_patches)
[[ $nmods == 1 ]] || die "Expecting only one patch listed, found $nmods"
disable_lp $MOD_LIVEPATCH2
check_call console_loglevel_show "console_loglevel: 7"

check_result "% load patches/$MOD_LIVEPATCH2.so
livepatch: enabling patch '$MOD_LIVEPATCH2'
livepatch: '$MOD_LIVEPATCH2': initializing patching transition
$MOD_LIVEPATCH2: pre_patch_callback: vmlinux
$MOD_LIVEPATCH2: allocate_loglevel_state: allocating space to store console_loglevel
livepatch: '$MOD_LIVEPATCH2': starting patching transition
livepatch: '$MOD_LIVEPATCH2': completing patching transition
$MOD_LIVEPATCH2: post_patch_callback: vmlinux
$MOD_LIVEPATCH2: fix_console_loglevel: fixing console_loglevel
livepatch: '$MOD_LIVEPATCH2': patching complete
% load patches/$MOD_LIVEPATCH.so
livepatch: Livepatch patch ($MOD_LIVEPATCH) is not compatible with the already installed livepatches.
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
