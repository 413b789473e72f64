#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 of uklp load at each successive step of a load:
# - the steps of a full `uklp load PID test_klp_livepatch.so` against a
#   fresh target (no LD_PRELOAD; main thread blocked in read(), two
#   hammer threads) are counted with UKLP_TOOL_STEPS=1 (a few runs, the
#   largest count is kept: the number of status polls varies)
# - for N = 1..total, against a fresh target each time:
#   UKLP_TOOL_KILL_AT=N uklp load makes the tool SIGKILL itself at step N;
#   then
#   - the target is alive, no thread of it is stopped or still traced
#   - every thread of it has its own scheduling back (SCHED_OTHER, the
#     nice value of the target's start): the tool boosts the threads it
#     waits for (SCHED_FIFO), and its guard process puts them back when
#     the tool dies (tool/prio.c) - also after a load that finished
#   - it answers call cmdline_show with the original or the patched text
#   - uklp list tells the truth: no runtime, or no patch -> original;
#     the patch enabled with transition 0 -> patched; a transition in
#     progress -> uklp wait completes it (-> patched) or else uklp disable
#     reverts it (-> original), and the list then says so
# - a point N beyond the steps of that run (the tool finished without
#   being killed) is reported as not reached, and not counted as tested;
#   N goes on past the calibrated total while loads still reach it
# - the list is read before and after the answer until both agree (the
#   call the tool started may still be running in the target)
# - summary line "kill points: N tested, N ok"; fails if a point failed;
#   says so (NOTE) if fewer than UKLP_KILL_MIN_POINTS (default 50) steps
#   exist.

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$P/test_klp_livepatch.so
NAME=test_klp_livepatch
MIN_POINTS=${UKLP_KILL_MIN_POINTS:-50}
CALIBRATION_RUNS=3
# Seconds uklp wait / disable get to finish a transition left in progress.
FINISH_S=10

# fresh_target - a new target with two hammer threads.
fresh_target()
{
	start_plain_target
	expect_ok "hammer start 2"
}

# threads_running - no thread of the target is stopped or traced.
threads_running()
{
	local st tracer task

	for task in /proc/"$TARGET_PID"/task/*; do
		st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "$task/stat" 2>/dev/null)
		tracer=$(awk '/^TracerPid:/ { print $2 }' "$task/status" 2>/dev/null)
		if [[ $st == [tT] ]]; then
			echo "thread ${task##*/} is stopped (state $st)"
			return 1
		fi
		if [[ -n $tracer && $tracer != 0 ]]; then
			echo "thread ${task##*/} is still traced by $tracer"
			return 1
		fi
	done
	return 0
}

# threads_ordinary - every thread of the target has policy SCHED_OTHER (0)
# and nice NICE0 (/proc/TID/stat fields 41 and 19).
threads_ordinary()
{
	local task f a

	for task in /proc/"$TARGET_PID"/task/*; do
		f=$(sed 's/^.*) //' "$task/stat" 2>/dev/null) || continue
		[[ -n $f ]] || continue
		read -r -a a <<<"$f"
		# Field k of the line is a[k - 3] once "pid (comm) " is cut.
		if [[ ${a[38]} != 0 || ${a[16]} != "$NICE0" ]]; then
			echo "thread ${task##*/} has policy ${a[38]}, nice ${a[16]} (expected 0, $NICE0)"
			return 1
		fi
	done
	return 0
}

# sched_back - threads_ordinary, given 2 s (the guard may be on its way).
sched_back()
{
	local i why

	for ((i = 0; i < 20; i++)); do
		why=$(threads_ordinary) && return 0
		sleep 0.1
	done
	echo "$why"
	return 1
}

# answer - ANSWER = what cmdline_show() returns now; fails if neither text.
answer()
{
	expect_ok "call cmdline_show"
	ANSWER=$CMD_OUT
	[[ $ANSWER == "$ORIGINAL" || $ANSWER == "$PATCHED" ]] ||
		die "cmdline_show answers '$ANSWER'"
}

# list_state - STATE = what uklp list says of the patch: noruntime, none,
# enabled (transition 0), transition, or other (FAIL reason in LIST_WHY).
list_state()
{
	local enabled transition

	run_uklp list "$TARGET_PID" >/dev/null
	if ((UK_RC == 1)) && grep -q 'has no uklp runtime' <<<"$UK_ERR"; then
		STATE=noruntime
		return
	fi
	if ((UK_RC != 0)); then
		STATE=other LIST_WHY="uklp list exited $UK_RC: $UK_ERR"
		return
	fi
	if [[ -z $UK_OUT ]]; then
		STATE=none
		return
	fi
	if [[ $(grep -c '^[^[:space:]]' <<<"$UK_OUT") != 1 ]] ||
		! grep -qx "$NAME" <<<"$UK_OUT"; then
		STATE=other LIST_WHY="unexpected list: $UK_OUT"
		return
	fi
	enabled=$(sed -n 's/^[[:space:]]*enabled: //p' <<<"$UK_OUT")
	transition=$(sed -n 's/^[[:space:]]*transition: //p' <<<"$UK_OUT")
	if [[ $enabled == 1 && $transition == 0 ]]; then
		STATE=enabled
	elif [[ $transition == 1 ]]; then
		STATE=transition
	else
		STATE=other LIST_WHY="enabled '$enabled' transition '$transition'"
	fi
}

# check_point N - kill the tool at step N of a load against a fresh
# target and check the target. Sets RESULT (ok / notreached / FAIL: why)
# and WHAT (the step's name).
check_point()
{
	local n=$1 rc=0 last why

	fresh_target
	NICE0=$(awk '{ sub(/^.*\) /, ""); print $17 }' "/proc/$TARGET_PID/stat")
	# (The braces keep the shell's "Killed" notice out of the output.)
	{
		UKLP_TOOL_STEPS=1 UKLP_TOOL_KILL_AT=$n timeout -k 5 \
			"$UKLP_TOOL_TIMEOUT" "$UKLP" load "$TARGET_PID" "$PATCH" \
			>"$WORK/kill.out" 2>"$WORK/kill.err"
	} 2>/dev/null || rc=$?
	last=$(grep '^step ' "$WORK/kill.err" | tail -n 1)
	WHAT=${last#step *: }
	if ((rc == 0)); then
		RESULT=notreached WHAT="(the load finished in $(grep -c '^step ' "$WORK/kill.err") steps)"
		why=$(sched_back) || RESULT="FAIL: after a finished load: $why"
		stop_target
		return
	fi
	if ((rc != 137)); then
		RESULT="FAIL: uklp exited $rc, not killed: $(grep -v '^step ' "$WORK/kill.err" | tail -n 3)"
		stop_target
		return
	fi
	if [[ $last != "step $n: "* ]]; then
		RESULT="FAIL: killed after '$last', not at step $n"
		stop_target
		return
	fi
	if ! kill -0 "$TARGET_PID" 2>/dev/null; then
		RESULT="FAIL: the target died"
		TARGET_PID=
		return
	fi
	if ! why=$(threads_running); then
		# A stopped thread may only be the tracer's exit in flight.
		sleep 0.5
		if ! why=$(threads_running); then
			RESULT="FAIL: $why"
			stop_target
			return
		fi
	fi
	if ! why=$(sched_back); then
		RESULT="FAIL: $why"
		stop_target
		return
	fi

	# The call the tool started may still be running in the target: read
	# the list before and after the answer, until both agree.
	local s1 tries
	for ((tries = 0; tries < 20; tries++)); do
		list_state
		s1=$STATE
		answer
		list_state
		[[ $s1 != "$STATE" ]] || break
		sleep 0.2
	done
	[[ $s1 == "$STATE" ]] || RESULT="FAIL: uklp list keeps changing ($s1, $STATE)"
	case $STATE in
	noruntime | none)
		[[ $ANSWER == "$ORIGINAL" ]] ||
			RESULT="FAIL: list says $STATE, the target answers '$ANSWER'"
		;;
	enabled)
		[[ $ANSWER == "$PATCHED" ]] ||
			RESULT="FAIL: list says enabled, transition 0, the target answers '$ANSWER'"
		;;
	transition)
		run_uklp wait --timeout "$FINISH_S" "$TARGET_PID" >/dev/null
		if ((UK_RC == 0)); then
			list_state
			answer
			[[ $STATE == enabled && $ANSWER == "$PATCHED" ]] ||
				RESULT="FAIL: after uklp wait: list $STATE, answer '$ANSWER'"
			STATE="transition-waited"
		else
			local wait_err=$UK_ERR
			run_uklp disable --timeout "$FINISH_S" "$TARGET_PID" "$NAME" >/dev/null
			if ((UK_RC != 0)); then
				RESULT="FAIL: transition left in progress: uklp wait: $wait_err; uklp disable exited $UK_RC: $UK_ERR"
			else
				list_state
				answer
				[[ $STATE == none && $ANSWER == "$ORIGINAL" ]] ||
					RESULT="FAIL: after uklp disable: list $STATE, answer '$ANSWER'"
				STATE="transition-disabled"
			fi
		fi
		;;
	*)
		[[ $RESULT == FAIL* ]] || RESULT="FAIL: $LIST_WHY"
		;;
	esac
	[[ $RESULT == FAIL* ]] || RESULT="ok ($STATE, '$ANSWER')"
	# Still alive and answering after all that.
	if [[ $RESULT != FAIL* ]]; then
		answer
		kill -0 "$TARGET_PID" 2>/dev/null || RESULT="FAIL: the target died at the end"
	fi
	stop_target
}

# Count the steps of a whole load.
total=0
for ((i = 1; i <= CALIBRATION_RUNS; i++)); do
	fresh_target
	rc=0
	UKLP_TOOL_STEPS=1 timeout -k 5 "$UKLP_TOOL_TIMEOUT" "$UKLP" load \
		"$TARGET_PID" "$PATCH" >"$WORK/count.out" 2>"$WORK/count.err" || rc=$?
	((rc == 0)) || die "a full uklp load failed ($rc): $(cat "$WORK/count.err")"
	answer
	[[ $ANSWER == "$PATCHED" ]] || die "after a full load the target answers '$ANSWER'"
	n=$(grep -c '^step ' "$WORK/count.err")
	echo "calibration run $i: $n steps"
	((n > total)) && total=$n && cp "$WORK/count.err" "$WORK/steps.txt"
	stop_target
done
((total > 0)) || die "uklp load printed no steps (UKLP_TOOL_STEPS=1)"
echo "a whole load has up to $total steps:"
sed 's/^/  /' "$WORK/steps.txt"

# Every N of 1..total, and on while the loads still reach N (a load may
# poll more often than the calibration ones did).
tested=0 good=0 notreached=0 failed=0
declare -A kinds=()
for ((n = 1; n <= 4 * total; n++)); do
	RESULT='' STATE='' ANSWER=''
	check_point "$n"
	case $RESULT in
	notreached)
		notreached=$((notreached + 1))
		echo "point $n: not reached $WHAT"
		((n < total)) || break
		;;
	FAIL*)
		tested=$((tested + 1))
		failed=$((failed + 1))
		kinds[$WHAT]=1
		echo "point $n [$WHAT]: $RESULT"
		;;
	*)
		tested=$((tested + 1))
		good=$((good + 1))
		kinds[$WHAT]=1
		echo "point $n [$WHAT]: $RESULT"
		;;
	esac
done

echo "kill points: $tested tested, $good ok"
echo "($notreached not reached: those loads had fewer steps; ${#kinds[@]} different step names among the points tested)"
if ((tested < MIN_POINTS)); then
	echo "NOTE: a load has only $tested steps to kill the tool at (fewer than $MIN_POINTS); all were tested"
fi
((failed == 0)) || die "$failed kill points left the target wrong"
pass
