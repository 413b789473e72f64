#!/bin/bash
# SPDX-License-Identifier: MIT
# test-livepatch.sh "module function patching":
# - the target loads a library (the kernel's target module)
# - load a patch of the library's function; it returns the patched result
# - disable it: the original is back; unload the library

. "$(dirname "$0")/../lib/common.sh"

MOD_TARGET=test_klp_callbacks_mod
MOD_TARGET_PATCH=test_klp_mod_patch

start_target
start_test "module function patching"

load_mod $MOD_TARGET
check_call mod_show "mod: original"

load_lp $MOD_TARGET_PATCH
check_call mod_show "$MOD_TARGET_PATCH: this has been live patched"

disable_lp $MOD_TARGET_PATCH
check_call mod_show "mod: original"

unload_mod $MOD_TARGET

check_result "% dlopen lib$MOD_TARGET.so
$MOD_TARGET: ${MOD_TARGET}_init
% load patches/$MOD_TARGET_PATCH.so
livepatch: enabling patch '$MOD_TARGET_PATCH'
livepatch: '$MOD_TARGET_PATCH': initializing patching transition
livepatch: '$MOD_TARGET_PATCH': starting patching transition
livepatch: '$MOD_TARGET_PATCH': completing patching transition
livepatch: '$MOD_TARGET_PATCH': patching complete
% disable $MOD_TARGET_PATCH
livepatch: '$MOD_TARGET_PATCH': initializing unpatching transition
livepatch: '$MOD_TARGET_PATCH': starting unpatching transition
livepatch: '$MOD_TARGET_PATCH': completing unpatching transition
livepatch: '$MOD_TARGET_PATCH': unpatching complete
% dlclose lib$MOD_TARGET.so
$MOD_TARGET: ${MOD_TARGET}_exit"

pass
