#!/bin/bash
# SPDX-License-Identifier: MIT
# test-livepatch.sh "multiple livepatches":
# - load two patches of different functions (the second not a replace
#   patch); both functions are patched
# - disable the second: only the first function is patched
# - disable the first: neither is

. "$(dirname "$0")/../lib/common.sh"

MOD_LIVEPATCH1=test_klp_livepatch
MOD_REPLACE=test_klp_atomic_replace

start_target
start_test "multiple livepatches"

load_lp $MOD_LIVEPATCH1
log_call cmdline_show
log_call meminfo_show
check_call cmdline_show "$MOD_LIVEPATCH1: this has been live patched"
check_call meminfo_show "meminfo: original"

load_lp $MOD_REPLACE	# replace=0
log_call cmdline_show
log_call meminfo_show
check_call cmdline_show "$MOD_LIVEPATCH1: this has been live patched"
check_call meminfo_show "$MOD_REPLACE: this has been live patched"

disable_lp $MOD_REPLACE
log_call cmdline_show
log_call meminfo_show
check_call meminfo_show "meminfo: original"

disable_lp $MOD_LIVEPATCH1
log_call cmdline_show
log_call meminfo_show
check_call cmdline_show "cmdline: original"
check_call meminfo_show "meminfo: original"

check_result "% load patches/$MOD_LIVEPATCH1.so
livepatch: enabling patch '$MOD_LIVEPATCH1'
livepatch: '$MOD_LIVEPATCH1': initializing patching transition
livepatch: '$MOD_LIVEPATCH1': starting patching transition
livepatch: '$MOD_LIVEPATCH1': completing patching transition
livepatch: '$MOD_LIVEPATCH1': patching complete
$MOD_LIVEPATCH1: this has been live patched
% load patches/$MOD_REPLACE.so
livepatch: enabling patch '$MOD_REPLACE'
livepatch: '$MOD_REPLACE': initializing patching transition
livepatch: '$MOD_REPLACE': starting patching transition
livepatch: '$MOD_REPLACE': completing patching transition
livepatch: '$MOD_REPLACE': patching complete
$MOD_LIVEPATCH1: this has been live patched
$MOD_REPLACE: this has been live patched
% disable $MOD_REPLACE
livepatch: '$MOD_REPLACE': initializing unpatching transition
livepatch: '$MOD_REPLACE': starting unpatching transition
livepatch: '$MOD_REPLACE': completing unpatching transition
livepatch: '$MOD_REPLACE': unpatching complete
$MOD_LIVEPATCH1: this has been live patched
% disable $MOD_LIVEPATCH1
livepatch: '$MOD_LIVEPATCH1': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH1': starting unpatching transition
livepatch: '$MOD_LIVEPATCH1': completing unpatching transition
livepatch: '$MOD_LIVEPATCH1': unpatching complete"

pass
