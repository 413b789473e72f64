#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load and disable of samples/redis (the PING reply) in Debian's
# unmodified redis-server while redis-benchmark runs 50 clients against it:
# - redis-server and redis-tools are installed if missing (skipped, with
#   the reason, when they cannot be); a redis-server whose build-id is not
#   the one the patch is pinned to must refuse it cleanly (then skipped:
#   the rest needs that build)
# - the server is started normally (no LD_PRELOAD): `uklp load` injects
#   the runtime and patches pingCommand(), which has no compiler site (a
#   prologue site), while redis-benchmark -c 50 runs PING_INLINE,
#   PING_MBULK, SET and GET; the benchmark completes every test with no
#   error (it exits at the first error reply or lost connection)
# - patched: PING -> the patched status, in RESP2 and RESP3; PING hello ->
#   hello; PING a b -> the arity error; a RESP2 subscriber's PING ->
#   ["pong", ""] as before; two connections opened before the load are
#   the same clients (CLIENT ID) and see the patched reply
# - `uklp disable` while another redis-benchmark runs: it completes with no
#   error; PING -> PONG on new and old connections; the executable's code
#   is byte for byte what it was before the load
# - the server answered exactly one error reply (the arity check) and
#   rejected no connection; `uklp check` can apply the patch again

# RESP replies are written as their lines joined with '|': '$4' is a
# bulk string's length line, not a variable.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib/redis.sh
. "$(dirname "$0")/lib/redis.sh"

redis_need
EXE=$(command -v redis-server)
bid=$(build_id "$EXE")
if [[ $bid != "$REDIS_BUILD_ID" ]]; then
	# Another build of redis: the pinned patch must be refused cleanly.
	redis_start "$EXE"
	run_uklp load "$REDIS_PID" "$REDIS_PATCH"
	expect_exit 1 "load of patch '$REDIS_PATCH_NAME' refused" \
		"the patch was made for $REDIS_BUILD_ID"
	expect_cli PONG PING
	skip "$EXE has build-id ${bid:-(none)}, samples/redis is made for $REDIS_BUILD_ID (Debian 12's redis-server 7.0.15); the patch was refused cleanly"
fi

# Requests per benchmark test for about 3 s of it: a short measure first.
# (Only to size the runs; nothing is asserted about time.)
bench_size()
{
	local out rps

	out=$(timeout -k 5 60 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" \
		-c 50 -n 20000 -t ping_mbulk --csv 2>&1) ||
		die "redis-benchmark (sizing run) failed: $out"
	rps=$(sed -n 's/^"PING_MBULK","\([0-9]*\).*/\1/p' <<<"$out")
	[[ -n $rps ]] || die "redis-benchmark (sizing run) printed no rate: $out"
	BENCH_N=$((rps * 3))
	((BENCH_N >= 20000)) || BENCH_N=20000
	((BENCH_N <= 2000000)) || BENCH_N=2000000
	echo "redis-benchmark sizing: $rps requests/s with 50 clients; $BENCH_N requests per test"
}

# bench_start NAME TESTS - redis-benchmark -c 50 -n BENCH_N -t TESTS in the
# background (BENCH_PID; output in $WORK/NAME.csv and NAME.err); returns
# once its 50 clients are connected (besides the KEEP ones of the test).
bench_start()
{
	local i

	redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 50 -n "$BENCH_N" \
		-t "$2" --csv >"$WORK/$1.csv" 2>"$WORK/$1.err" &
	BENCH_PID=$!
	track_pid "$BENCH_PID"
	for ((i = 0; i < 600; i++)); do
		kill -0 "$BENCH_PID" 2>/dev/null ||
			die "redis-benchmark $1 ended before its clients were seen: $(cat "$WORK/$1.csv" "$WORK/$1.err")"
		redis_info clients connected_clients
		((INFO_VAL >= 50 + KEEP)) && break
		sleep 0.05
	done
	((i < 600)) || die "redis-benchmark $1: its 50 clients never all connected"
	echo "redis-benchmark $1 ($2) running: $INFO_VAL clients connected"
}

# bench_running NAME - the benchmark is still running (the uklp command
# just done overlapped it).
bench_running()
{
	kill -0 "$BENCH_PID" 2>/dev/null ||
		die "redis-benchmark $1 ended before the uklp command did: no overlap to check"
	echo "ok: redis-benchmark $1 still running"
}

# bench_end NAME TESTS - wait for the benchmark: exit status 0, one result
# line per test, no error message.
bench_end()
{
	local rc=0 t

	wait "$BENCH_PID" || rc=$?
	echo "--- redis-benchmark $1 (exit status $rc):"
	cat "$WORK/$1.csv" "$WORK/$1.err"
	((rc == 0)) || die "redis-benchmark $1 exited with status $rc (it exits at the first error reply or lost connection)"
	! grep -qiE 'error|ERR ' "$WORK/$1.csv" "$WORK/$1.err" ||
		die "redis-benchmark $1 reported an error"
	for t in ${2//,/ }; do
		t=${t^^}
		grep -q "^\"$t\",\"[0-9.]*\"" "$WORK/$1.csv" ||
			die "redis-benchmark $1 has no result for $t"
	done
	echo "ok: redis-benchmark $1 completed every test with no error"
}

redis_start "$EXE"
redis_info stats total_error_replies
errors0=$INFO_VAL
exe_text_hash
hash0=$TEXT_HASH
# pingCommand() has no compiler site: "mov 0x48(%rdi),%eax; cmp $2,%eax"
# (6 bytes) is the prologue uklp relocates.
fn_bytes pingCommand 6
ping0=$FN_BYTES
echo "pingCommand starts with: $ping0"

# Two clients that stay connected through load and disable: A plain, S a
# RESP2 subscriber.
KEEP=2
conn_open A
conn_open S
conn_cmd A 1 "CLIENT ID"
idA=$CONN_OUT
conn_cmd S 1 "CLIENT ID"
idS=$CONN_OUT
expect_conn A 1 PING "+PONG"
expect_conn S 6 "SUBSCRIBE uklp-test" '*3|$9|subscribe|$9|uklp-test|:1'
expect_conn S 5 PING '*2|$4|pong|$0|'
expect_cli PONG PING

bench_size
TESTS1=ping_inline,ping_mbulk,set,get
bench_start load "$TESTS1"
run_uklp load "$REDIS_PID" "$REDIS_PATCH"
((UK_RC == 0)) || die "uklp load failed ($UK_RC): $UK_ERR"
bench_running load

# Patched, while the benchmark goes on.
expect_cli "$PATCHED_PONG" PING
expect_cli "$PATCHED_PONG" -3 PING
expect_cli hello PING hello
expect_cli "ERR wrong number of arguments for 'ping' command" PING a b
expect_conn A 1 PING "+$PATCHED_PONG"
expect_conn A 1 "CLIENT ID" "$idA"
expect_conn S 5 PING '*2|$4|pong|$0|'
expect_conn S 5 "PING hi" '*2|$4|pong|$2|hi'
run_uklp list "$REDIS_PID"
grep -qx "$REDIS_PATCH_NAME" <<<"$UK_OUT" || die "uklp list does not show $REDIS_PATCH_NAME"
grep -qE '^ *enabled: 1' <<<"$UK_OUT" || die "uklp list: $REDIS_PATCH_NAME is not enabled"
grep -qE '^ *pingCommand,' <<<"$UK_OUT" || die "uklp list: pingCommand is not listed"
# The prologue site: a jmp rel32 over the first instructions.
fn_bytes pingCommand 6
[[ $FN_BYTES == e9* ]] || die "patched pingCommand starts with '$FN_BYTES', expected a jmp (e9)"
echo "ok: patched pingCommand starts with a jmp: $FN_BYTES"
exe_text_hash
[[ $TEXT_HASH != "$hash0" ]] || die "pingCommand is patched but the executable's code did not change"
bench_end load "$TESTS1"

TESTS2=ping_mbulk,get
bench_start disable "$TESTS2"
run_uklp disable "$REDIS_PID" "$REDIS_PATCH_NAME"
((UK_RC == 0)) || die "uklp disable failed ($UK_RC): $UK_ERR"
bench_running disable
expect_cli PONG PING
expect_cli hello PING hello
expect_conn A 1 PING "+PONG"
expect_conn S 5 PING '*2|$4|pong|$0|'
bench_end disable "$TESTS2"

# The old clients are still the same ones; nothing was refused or failed.
expect_conn A 1 "CLIENT ID" "$idA"
expect_conn S 6 "UNSUBSCRIBE uklp-test" '*3|$11|unsubscribe|$9|uklp-test|:0'
expect_conn S 1 "CLIENT ID" "$idS"
redis_info stats rejected_connections
((INFO_VAL == 0)) || die "redis-server rejected $INFO_VAL connections"
redis_info stats total_error_replies
((INFO_VAL - errors0 == 1)) ||
	die "redis-server answered $((INFO_VAL - errors0)) error replies, expected 1 (PING a b)"
echo "ok: one error reply (PING a b), no rejected connection"
exe_text_hash
[[ $TEXT_HASH == "$hash0" ]] || die "after disable the executable's code differs from before the load"
fn_bytes pingCommand 6
[[ $FN_BYTES == "$ping0" ]] || die "after disable pingCommand starts with '$FN_BYTES', expected '$ping0'"
echo "ok: the executable's code is the original again (pingCommand: $FN_BYTES)"
run_uklp list "$REDIS_PID"
! grep -qx "$REDIS_PATCH_NAME" <<<"$UK_OUT" || die "uklp list still shows $REDIS_PATCH_NAME"

# The dry run: the patch can be applied again.
run_uklp check "$REDIS_PID" "$REDIS_PATCH"
((UK_RC == 0)) || die "uklp check failed ($UK_RC): $UK_ERR"
expect_cli PONG PING
kill -0 "$REDIS_PID" || die "redis-server is gone"

pass
