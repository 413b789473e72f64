#!/bin/bash
# SPDX-License-Identifier: MIT
# test-sysfs.sh "sysfs test stack_order value" (upstream since v6.13):
# - load three patches: stack_order 1, 2, 3
# - disable the second: the others are renumbered 1, 2
# - disable the rest

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_livepatch
MOD_LIVEPATCH2=test_klp_callbacks_demo
MOD_LIVEPATCH3=test_klp_syscall

start_target
start_test "sysfs test stack_order value"

load_lp $MOD_LIVEPATCH
check_list_value "$MOD_LIVEPATCH/stack_order" 1
load_lp $MOD_LIVEPATCH2
check_list_value "$MOD_LIVEPATCH2/stack_order" 2
load_lp $MOD_LIVEPATCH3
check_list_value "$MOD_LIVEPATCH3/stack_order" 3

disable_lp $MOD_LIVEPATCH2
check_list_value "$MOD_LIVEPATCH/stack_order" 1
check_list_value "$MOD_LIVEPATCH3/stack_order" 2

disable_lp $MOD_LIVEPATCH3
disable_lp $MOD_LIVEPATCH

check_result "% load patches/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% load patches/$MOD_LIVEPATCH2.so
livepatch: enabling patch '$MOD_LIVEPATCH2'
livepatch: '$MOD_LIVEPATCH2': initializing patching transition
$MOD_LIVEPATCH2: pre_patch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH2': starting patching transition
livepatch: '$MOD_LIVEPATCH2': completing patching transition
$MOD_LIVEPATCH2: post_patch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH2': patching complete
% load patches/$MOD_LIVEPATCH3.so
livepatch: enabling patch '$MOD_LIVEPATCH3'
livepatch: '$MOD_LIVEPATCH3': initializing patching transition
livepatch: '$MOD_LIVEPATCH3': starting patching transition
livepatch: '$MOD_LIVEPATCH3': completing patching transition
livepatch: '$MOD_LIVEPATCH3': patching complete
% disable $MOD_LIVEPATCH2
livepatch: '$MOD_LIVEPATCH2': initializing unpatching transition
$MOD_LIVEPATCH2: pre_unpatch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH2': starting unpatching transition
livepatch: '$MOD_LIVEPATCH2': completing unpatching transition
$MOD_LIVEPATCH2: post_unpatch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH2': unpatching complete
% disable $MOD_LIVEPATCH3
livepatch: '$MOD_LIVEPATCH3': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH3': starting unpatching transition
livepatch: '$MOD_LIVEPATCH3': completing unpatching transition
livepatch: '$MOD_LIVEPATCH3': unpatching complete
% disable $MOD_LIVEPATCH
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete"

pass
