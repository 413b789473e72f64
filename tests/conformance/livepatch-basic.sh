#!/bin/bash
# SPDX-License-Identifier: MIT
# test-livepatch.sh "basic function patching":
# - load a patch that changes what cmdline_show() returns, check it
# - disable it and check that the original is back

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH=test_klp_livepatch

start_target "${TARGET_VARIANT:-}"
start_test "basic function patching"

check_call cmdline_show "cmdline: original"
load_lp $MOD_LIVEPATCH
check_call cmdline_show "$MOD_LIVEPATCH: this has been live patched"
disable_lp $MOD_LIVEPATCH
check_call cmdline_show "cmdline: original"

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
