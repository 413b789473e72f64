#!/bin/bash
# SPDX-License-Identifier: MIT
# The target exits (SIGKILL) while uklp load drives the transition:
# - a thread of the target parks in busymod_work_func()
#   (libtest_klp_callbacks_busy.so, "busy start"); uklp load --timeout 10
#   of test_klp_callbacks_demo (which replaces it) cannot complete
# - after about 1 s, with the transition shown in progress, the target is
#   killed
# - uklp exits 1 well before its timeout and says "exited during the
#   transition"

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$P/test_klp_callbacks_demo.so

start_plain_target
expect_ok "dlopen libtest_klp_callbacks_busy.so"
expect_ok "busy start"

start=$SECONDS
timeout -k 5 60 "$UKLP" load --timeout 10 "$TARGET_PID" "$PATCH" \
	>"$WORK/bg.out" 2>"$WORK/bg.err" &
bg=$!
track_pid "$bg"

# Wait until the transition is under way (1 s at least, as asked).
sleep 1
in_transition=
for ((i = 0; i < 50; i++)); do
	if "$UKLP" list "$TARGET_PID" 2>/dev/null |
		grep -qE '^[[:space:]]+transition: 1$'; then
		in_transition=1
		break
	fi
	kill -0 "$bg" 2>/dev/null || break
	sleep 0.1
done
if [[ -z $in_transition ]]; then
	cat "$WORK/bg.out" "$WORK/bg.err"
	die "the transition of test_klp_callbacks_demo is not in progress"
fi
kill -0 "$bg" 2>/dev/null || die "uklp load ended before the target was killed: $(cat "$WORK/bg.err")"
echo "ok: transition in progress, uklp load still driving it"

kill -KILL "$TARGET_PID"
rc=0
wait "$bg" || rc=$?
elapsed=$((SECONDS - start))
UK_RC=$rc UK_OUT=$(cat "$WORK/bg.out") UK_ERR=$(cat "$WORK/bg.err")
echo "\$ uklp load --timeout 10 $TARGET_PID $PATCH -> exit $UK_RC after ${elapsed}s"
printf '%s\n' "$UK_ERR" | sed 's/^/  err: /'
((rc != 124 && rc != 137)) || die "uklp load hung after the target died"
expect_exit 1 "process $TARGET_PID exited during the transition"
((elapsed < 10)) || die "uklp load took ${elapsed}s: it did not notice the exit"
stop_target

pass
