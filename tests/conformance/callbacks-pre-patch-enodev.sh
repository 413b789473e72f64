#!/bin/bash
# SPDX-License-Identifier: MIT
# test-callbacks.sh "pre-patch callback -ENODEV":
# - the target loads the library
# - load the patch built with pre_patch_ret=-19 (patches/enodev/): the
#   main executable's pre_patch fails, the enable is canceled, no other
#   callback runs, and the load fails with -ENODEV
# - unload the library
#
# The kernel's transcript has insmod's "could not insert module ... No such
# device" line: here the load's error code is checked instead.

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_callbacks_demo
MOD_TARGET=test_klp_callbacks_mod
TLIB=lib$MOD_TARGET.so

start_target
start_test "pre-patch callback -ENODEV"

load_mod $MOD_TARGET
load_failing_lp -19 enodev/$MOD_LIVEPATCH
nmods=$(count_patches)
[[ $nmods == 0 ]] || die "the failed patch is listed ($nmods patches)"
unload_mod $MOD_TARGET

check_result "% dlopen $TLIB
$MOD_TARGET: ${MOD_TARGET}_init
% load patches/enodev/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
test_klp_callbacks_demo: pre_patch_callback: vmlinux
livepatch: pre-patch callback failed for object 'vmlinux'
livepatch: failed to enable patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': canceling patching transition, going to unpatch
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% dlclose $TLIB
$MOD_TARGET: ${MOD_TARGET}_exit"

pass
