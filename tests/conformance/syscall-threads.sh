#!/bin/bash
# SPDX-License-Identifier: MIT
# test-syscall.sh "patch getpid syscall while being heavily hammered":
# - N threads of the target call syscall_getpid() in a loop (the kernel
#   test's test_klp-call_getpid processes); N = online CPUs, 128 at most
# - load the patch: its syscall_getpid() counts each thread once; every
#   thread must end up running it (klp_pending_threads reaches 0)
# - stop the threads, disable the patch

. "$(dirname "$0")/../lib/common.sh"

MOD_SYSCALL=test_klp_syscall

NPROC=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 4)
MAXPROC=128
((NPROC > MAXPROC)) && NPROC=$MAXPROC
((NPROC < 2)) && NPROC=2

pending()
{
	expect_ok pending
	printf '%s\n' "$CMD_OUT"
}

start_target
start_test "patch getpid syscall while being heavily hammered"

expect_ok "hammer start $NPROC"
load_lp $MOD_SYSCALL
loop_until '[[ $(pending) == 0 ]]'
pending_threads=$(pending)
mark "$MOD_SYSCALL: Remaining not livepatched processes: $pending_threads"
expect_ok "hammer stop"
[[ $pending_threads == 0 ]] ||
	die "$pending_threads of $NPROC threads never ran the patched function"
check_call syscall_getpid "$MOD_SYSCALL: this has been live patched"

disable_lp $MOD_SYSCALL
check_call syscall_getpid "getpid: original"

check_result "% load patches/$MOD_SYSCALL.so
livepatch: enabling patch '$MOD_SYSCALL'
livepatch: '$MOD_SYSCALL': initializing patching transition
livepatch: '$MOD_SYSCALL': starting patching transition
livepatch: '$MOD_SYSCALL': completing patching transition
livepatch: '$MOD_SYSCALL': patching complete
$MOD_SYSCALL: Remaining not livepatched processes: 0
% disable $MOD_SYSCALL
livepatch: '$MOD_SYSCALL': initializing unpatching transition
livepatch: '$MOD_SYSCALL': starting unpatching transition
livepatch: '$MOD_SYSCALL': completing unpatching transition
livepatch: '$MOD_SYSCALL': unpatching complete"

pass
