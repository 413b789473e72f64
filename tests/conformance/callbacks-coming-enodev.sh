#!/bin/bash
# SPDX-License-Identifier: MIT
# test-callbacks.sh "module_coming + pre-patch callback -ENODEV":
# - load the patch (patches/enodev-coming/: its pre_patch fails for objects
#   loaded later, as after the kernel test's
#   "echo -19 > /sys/module/test_klp_callbacks_demo/parameters/pre_patch_ret")
# - the target loads the library: its pre_patch fails, the library's load
#   is refused (its constructor never runs) and the patch stays enabled
# - disable: callbacks for the main executable only
#
# Dropped from the kernel's transcript: the "% echo -19 > ..." line (a
# build variant here) and insmod's "could not insert module" line (the
# dlopen's failure is checked instead).

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_callbacks_demo
MOD_TARGET=test_klp_callbacks_mod
TLIB=lib$MOD_TARGET.so

start_target
start_test "module_coming + pre-patch callback -ENODEV"

load_lp enodev-coming/$MOD_LIVEPATCH
load_failing_mod $MOD_TARGET
check_list_value "$MOD_LIVEPATCH/enabled" 1
disable_lp $MOD_LIVEPATCH

check_result "% load patches/enodev-coming/$MOD_LIVEPATCH.so
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
$MOD_LIVEPATCH: pre_patch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
$MOD_LIVEPATCH: post_patch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH': patching complete
% dlopen $TLIB
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$TLIB'
$MOD_LIVEPATCH: pre_patch_callback: $TLIB -> $STATE_COMING
livepatch: pre-patch callback failed for object '$TLIB'
livepatch: patch '$MOD_LIVEPATCH' failed for module '$TLIB', refusing to load module '$TLIB'
% disable $MOD_LIVEPATCH
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
$MOD_LIVEPATCH: pre_unpatch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
$MOD_LIVEPATCH: post_unpatch_callback: vmlinux
livepatch: '$MOD_LIVEPATCH': unpatching complete"

pass
