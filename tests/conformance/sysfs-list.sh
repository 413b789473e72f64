#!/bin/bash
# SPDX-License-Identifier: MIT
# test-sysfs.sh "sysfs test" (+ "check sysfs stack_order"):
# - load a patch; "uklp list" shows it enabled, not in transition, not
#   replace, stack_order 1, its object vmlinux patched, its function as
#   "cmdline_show,1" (the kernel names a function "name,sympos", 1 for 0)
# - the JSON form is there too
# - disable it: it is no longer listed
#
# There is no counterpart of the kernel's file permission checks.

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_livepatch

start_target
start_test "sysfs test"

load_lp $MOD_LIVEPATCH

check_list_value "$MOD_LIVEPATCH/enabled" 1
check_list_value "$MOD_LIVEPATCH/transition" 0
check_list_value "$MOD_LIVEPATCH/replace" 0
check_list_value "$MOD_LIVEPATCH/stack_order" 1
check_list_value "$MOD_LIVEPATCH/vmlinux/patched" 1
check_list_exists "$MOD_LIVEPATCH/vmlinux/cmdline_show,1"

expect_ok listjson
[[ $CMD_OUT == *'"'$MOD_LIVEPATCH'"'* && $CMD_OUT == *stack_order* ]] ||
	die "listjson does not show $MOD_LIVEPATCH: $CMD_OUT"

disable_lp $MOD_LIVEPATCH
nmods=$(count_patches)
[[ $nmods == 0 ]] || die "Expecting no patch listed, found $nmods"

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

pass
