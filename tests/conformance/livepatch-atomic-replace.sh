#!/bin/bash
# SPDX-License-Identifier: MIT
# test-livepatch.sh "atomic replace livepatch":
# - load three patches (cmdline_show, syscall_getpid, callbacks only)
# - load an atomic replace patch of meminfo_show: it alone remains listed,
#   cmdline_show is the original again (a nop func), meminfo_show is
#   patched, and the replaced patches run no callbacks
# - disable it: everything is original

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH1=test_klp_livepatch
MOD_LIVEPATCH2=test_klp_syscall
MOD_LIVEPATCH3=test_klp_callbacks_demo
MOD_REPLACE=test_klp_atomic_replace

start_target
start_test "atomic replace livepatch"

load_lp $MOD_LIVEPATCH1
log_call cmdline_show
log_call meminfo_show

for mod in $MOD_LIVEPATCH2 $MOD_LIVEPATCH3; do
	load_lp "$mod"
done

nmods=$(count_patches)
[[ $nmods == 3 ]] || die "Expecting three patches listed, found $nmods"

load_lp replace/$MOD_REPLACE	# replace=1
log_call cmdline_show
log_call meminfo_show
check_call cmdline_show "cmdline: original"
check_call meminfo_show "$MOD_REPLACE: this has been live patched"
check_call syscall_getpid "getpid: original"

loop_until '[[ $(count_patches) == 1 ]]' ||
	die "Expecting only one patch listed, found $(count_patches)"
log_call cmdline_show
log_call meminfo_show

disable_lp $MOD_REPLACE
log_call cmdline_show
log_call meminfo_show
check_call meminfo_show "meminfo: original"

# The kernel's transcript has "% rmmod" lines for the three replaced
# patches here: the runtime unloads replaced patches itself.
check_result "% load patches/$MOD_LIVEPATCH1.so
livepatch: enabling patch '$MOD_LIVEPATCH1'
livepatch: '$MOD_LIVEPATCH1': initializing patching transition
livepatch: '$MOD_LIVEPATCH1': starting patching transition
livepatch: '$MOD_LIVEPATCH1': completing patching transition
livepatch: '$MOD_LIVEPATCH1': patching complete
$MOD_LIVEPATCH1: this has been live patched
% load patches/$MOD_LIVEPATCH2.so
livepatch: enabling patch '$MOD_LIVEPATCH2'
livepatch: '$MOD_LIVEPATCH2': initializing patching transition
livepatch: '$MOD_LIVEPATCH2': starting patching transition
livepatch: '$MOD_LIVEPATCH2': completing patching transition
livepatch: '$MOD_LIVEPATCH2': patching complete
% load patches/$MOD_LIVEPATCH3.so
livepatch: enabling patch '$MOD_LIVEPATCH3'
livepatch: '$MOD_LIVEPATCH3': initializing patching transition
$MOD_LIVEPATCH3: pre_patch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH3': starting patching transition
livepatch: '$MOD_LIVEPATCH3': completing patching transition
$MOD_LIVEPATCH3: post_patch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH3': patching complete
% load patches/replace/$MOD_REPLACE.so
livepatch: enabling patch '$MOD_REPLACE'
livepatch: '$MOD_REPLACE': initializing patching transition
livepatch: '$MOD_REPLACE': starting patching transition
livepatch: '$MOD_REPLACE': completing patching transition
livepatch: '$MOD_REPLACE': patching complete
$MOD_REPLACE: this has been live patched
$MOD_REPLACE: this has been live patched
% disable $MOD_REPLACE
livepatch: '$MOD_REPLACE': initializing unpatching transition
livepatch: '$MOD_REPLACE': starting unpatching transition
livepatch: '$MOD_REPLACE': completing unpatching transition
livepatch: '$MOD_REPLACE': unpatching complete"

pass
