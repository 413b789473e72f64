#!/bin/bash
# SPDX-License-Identifier: MIT
# Duplicate local symbols (the kernel's old_sympos; no selftest of its own):
# - the target has two static local_helper() functions, in two files
# - a patch of the second one (old_sympos 2) changes it and not the first;
#   the list names the function "local_helper,2"
# - the same patch with old_sympos 0 (ambiguous) or 3 (no such symbol) is
#   refused with the kernel's messages, and nothing changes

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_local

start_target
start_test "patch a duplicate local function by position"

check_call local_helper_1 "local_helper 1"
check_call local_helper_2 "local_helper 2"
load_lp $MOD_LIVEPATCH
check_call local_helper_1 "local_helper 1"
check_call local_helper_2 "local_helper 2 patched"
check_list_exists "$MOD_LIVEPATCH/vmlinux/local_helper,2"
disable_lp $MOD_LIVEPATCH
check_call local_helper_1 "local_helper 1"
check_call local_helper_2 "local_helper 2"

check_result "% load patches/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% disable $MOD_LIVEPATCH
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete"

# The kernel prints the object name with %s, "(null)" for vmlinux: only
# the message's start is checked.
start_test "ambiguous local symbol"
load_failing_lp any ambiguous/$MOD_LIVEPATCH
log_contains "livepatch: unresolvable ambiguity for symbol 'local_helper' in object" ||
	die "no 'unresolvable ambiguity' message:
$(get_log)"
[[ $(count_patches) == 0 ]] || die "the refused patch is listed"
check_call local_helper_1 "local_helper 1"
check_call local_helper_2 "local_helper 2"

start_test "local symbol position out of range"
load_failing_lp any sympos3/$MOD_LIVEPATCH
log_contains "livepatch: symbol position 3 for symbol 'local_helper' in object 'vmlinux' not found" ||
	die "no 'symbol position 3 ... not found' message:
$(get_log)"
[[ $(count_patches) == 0 ]] || die "the refused patch is listed"
check_call local_helper_2 "local_helper 2"

pass
