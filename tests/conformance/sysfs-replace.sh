#!/bin/bash
# SPDX-License-Identifier: MIT
# test-sysfs.sh "sysfs test replace enabled" and "... replace disabled":
# the list shows replace 1 for the replace build of test_klp_atomic_replace
# (patches/replace/, the kernel's replace=1), 0 for the other one. Each
# case runs in a target of its own.

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_atomic_replace

replace_case()	# VARIANT_DIR EXPECTED_REPLACE TITLE
{
	start_target
	start_test "$3"

	load_lp "$1$MOD_LIVEPATCH"
	check_list_value "$MOD_LIVEPATCH/replace" "$2"
	disable_lp $MOD_LIVEPATCH

	check_result "% load patches/$1$MOD_LIVEPATCH.so
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
	stop_target
}

replace_case replace/ 1 "sysfs test replace enabled"
replace_case "" 0 "sysfs test replace disabled"

pass
