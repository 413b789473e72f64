#!/bin/bash
# SPDX-License-Identifier: MIT
# test-livepatch.sh "module function patching (livepatch first)":
# - load a patch for a library the target has not loaded yet
# - the target loads the library: the patch is applied while it loads
#   (klp_module_coming), before any of its code runs, so the library's
#   constructor already gets the patched result
# - disable the patch: the original is back; unload the library

. "$(dirname "$0")/../lib/common.sh"

MOD_TARGET=test_klp_callbacks_mod
MOD_TARGET_PATCH=test_klp_mod_patch
LIB=lib$MOD_TARGET.so

start_target
start_test "module function patching (livepatch first)"

load_lp $MOD_TARGET_PATCH
load_mod $MOD_TARGET
check_call mod_first_result "$MOD_TARGET_PATCH: this has been live patched"
check_call mod_show "$MOD_TARGET_PATCH: this has been live patched"

disable_lp $MOD_TARGET_PATCH
check_call mod_show "mod: original"

unload_mod $MOD_TARGET

check_result "% load patches/$MOD_TARGET_PATCH.so
livepatch: enabling patch '$MOD_TARGET_PATCH'
livepatch: '$MOD_TARGET_PATCH': initializing patching transition
livepatch: '$MOD_TARGET_PATCH': starting patching transition
livepatch: '$MOD_TARGET_PATCH': completing patching transition
livepatch: '$MOD_TARGET_PATCH': patching complete
% dlopen $LIB
livepatch: applying patch '$MOD_TARGET_PATCH' to loading module '$LIB'
$MOD_TARGET: ${MOD_TARGET}_init
% disable $MOD_TARGET_PATCH
livepatch: '$MOD_TARGET_PATCH': initializing unpatching transition
livepatch: '$MOD_TARGET_PATCH': starting unpatching transition
livepatch: '$MOD_TARGET_PATCH': completing unpatching transition
livepatch: '$MOD_TARGET_PATCH': unpatching complete
% dlclose $LIB
$MOD_TARGET: ${MOD_TARGET}_exit"

pass
