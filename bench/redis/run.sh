#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/redis/run.sh [BUILD_DIR] - redis-server's throughput and latency in
# the second before, the second of and the second after `uklp load` (and
# `uklp disable`) of samples/redis; writes bench/RESULTS-redis.md.
#
# Debian's unmodified /usr/bin/redis-server (installed by tests/lib/deps.sh
# redis when missing; skipped, exit 0, when it cannot be, or when its
# build-id is not the one samples/redis is pinned to). Each run starts a
# fresh server (127.0.0.1, a free port, no persistence, no LD_PRELOAD),
# then:
#
#   pingload  $B/bench/redis/redis-pingload (bench/redis/pingload.c): 50
#             connections, one PING in flight each, for 8 s; at 3 s it runs
#             `uklp load PID redis-ping.so` (the first load also injects
#             the runtime), at 6 s `uklp disable PID redis-ping`; ops/s,
#             p50/p99/max latency and errors per window, from every reply's
#             own timestamps
#   rb        on another fresh server, redis-benchmark -c 50 -t ping_mbulk
#             (the same requests), with the same two commands at 3 s and
#             6 s; redis-benchmark 7.0 prints no percentiles until it ends,
#             only its requests/s and mean latency every 250 ms: those are
#             timestamped here, and a window's figure is the mean over the
#             250 ms intervals that end in it (so its edges are only as
#             sharp as 250 ms)
#
# Raw outputs go to BUILD_DIR/bench/redis/out/. Exits 1 when a run failed
# (an error reply, a lost connection, a uklp command that failed); a missed
# target is a result, reported in the file.
#
# Environment: REDIS_BENCH_RUNS (5), REDIS_BENCH_THREADS (1: pingload's
# threads).
set -u

BD=${1:-build}
cd "$(dirname "$0")/../.." || exit 1
B=$(cd "$BD" 2>/dev/null && pwd) || {
	echo "bench-redis: no build directory" >&2
	exit 1
}
RES=bench/RESULTS-redis.md
OUT=$B/bench/redis/out
RUNS=${REDIS_BENCH_RUNS:-5}
THREADS=${REDIS_BENCH_THREADS:-1}
PATCH=$B/samples/redis/redis-ping.so
PATCH_NAME=redis-ping
LOAD_AT=3
DISABLE_AT=6
DUR=8

if ! why=$(sh tests/lib/deps.sh redis 2>&1); then
	echo "bench-redis: skipped: redis-server/redis-tools are not installed and could not be: $(tail -n 1 <<<"$why")" >&2
	exit 0
fi
sh tests/lib/deps.sh build || exit 1
${MAKE:-make} --no-print-directory -s B="$B" bench-redis-build || exit 1

EXE=$(command -v redis-server)
want=$(sed -n 's/^#define REDIS_BUILD_ID "\([0-9a-f]*\)"$/\1/p' samples/redis/redis-ping.c)
bid=$(readelf -n "$EXE" 2>/dev/null | sed -n 's/.*Build ID: *//p' | head -n 1)
if [[ $bid != "$want" ]]; then
	echo "bench-redis: skipped: $EXE has build-id ${bid:-(none)}, samples/redis is made for $want" >&2
	exit 0
fi

mkdir -p "$OUT"
rm -f "${OUT:?}"/*

SPID=
BPID=
# shellcheck disable=SC2317 # called by the trap
cleanup()
{
	[[ -z $BPID ]] || kill -KILL "$BPID" 2>/dev/null
	[[ -z $SPID ]] || kill -KILL "$SPID" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# start_server LOG - a fresh redis-server: SPID, PORT.
start_server()
{
	local try i hex

	for ((try = 0; try < 10; try++)); do
		PORT=$((20000 + RANDOM % 10000))
		hex=$(printf '%04X' "$PORT")
		grep -qE "^ *[0-9]+: [0-9A-F]+:$hex " /proc/net/tcp /proc/net/tcp6 && continue
		env -u LD_PRELOAD "$EXE" --port "$PORT" --bind 127.0.0.1 --save '' \
			--appendonly no --daemonize no --dir "$OUT" >"$1" 2>&1 &
		SPID=$!
		for ((i = 0; i < 300; i++)); do
			kill -0 "$SPID" 2>/dev/null || break
			[[ $(redis-cli -p "$PORT" PING 2>/dev/null) == PONG ]] && return 0
			sleep 0.1
		done
		kill -KILL "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		SPID=
		grep -q 'Address already in use' "$1" || break
	done
	echo "bench-redis: redis-server does not start: $(tail -n 3 "$1")" >&2
	return 1
}

# stop_server TAG - the server's runtime log, then SIGTERM (SIGKILL after
# 5 s). Fails if the server had died.
stop_server()
{
	local i alive=1

	kill -0 "$SPID" 2>/dev/null || alive=0
	"$B/uklp" log "$SPID" >"$OUT/uklp-log.$1" 2>&1
	kill -TERM "$SPID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
	((alive)) || echo "bench-redis: run $1: redis-server died" >&2
	return $((!alive))
}

# now_s - seconds since the epoch, microseconds.
now_s()
{
	echo "$EPOCHREALTIME"
}

# run_pingload I
run_pingload()
{
	local rc=0

	start_server "$OUT/server.pingload.$1" || return 1
	"$B/bench/redis/redis-pingload" -p "$PORT" -c 50 -t "$THREADS" -d "$DUR" -P "$SPID" \
		-o "$OUT/timeline.$1" \
		-x "$LOAD_AT:UKLP_TOOL_PAUSES=$OUT/pauses.load.$1 $B/uklp load $SPID $PATCH >$OUT/load.pingload.$1 2>&1" \
		-x "$DISABLE_AT:UKLP_TOOL_PAUSES=$OUT/pauses.disable.$1 $B/uklp disable $SPID $PATCH_NAME >$OUT/disable.pingload.$1 2>&1" \
		>"$OUT/pingload.$1" 2>"$OUT/pingload.$1.err" || rc=1
	stop_server "pingload.$1" || rc=1
	((rc == 0)) || echo "bench-redis: pingload run $1 failed (see $OUT/pingload.$1*)" >&2
	return $rc
}

# stamp - redis-benchmark's progress lines (ended by \r), timestamped.
stamp()
{
	local line

	while IFS= read -r -d $'\r' line; do
		[[ $line == *rps=* ]] && printf '%s %s\n' "$EPOCHREALTIME" "$line"
	done
}

# run_rb I - redis-benchmark, the same commands, its 250 ms figures.
run_rb()
{
	local rc=0 t0 s e lrc drc spid

	start_server "$OUT/server.rb.$1" || return 1
	rm -f "$OUT/rb.fifo"
	mkfifo "$OUT/rb.fifo" || return 1
	stamp <"$OUT/rb.fifo" >"$OUT/rb.$1" &
	spid=$!
	t0=$(now_s)
	redis-benchmark -h 127.0.0.1 -p "$PORT" -c 50 -n 1000000000 -t ping_mbulk \
		>"$OUT/rb.fifo" 2>"$OUT/rb.$1.err" &
	BPID=$!
	sleep "$LOAD_AT"
	s=$(now_s)
	"$B/uklp" load "$SPID" "$PATCH" >"$OUT/load.rb.$1" 2>&1
	lrc=$?
	e=$(now_s)
	echo "EVENT load start=$s end=$e rc=$lrc" >>"$OUT/rb.$1.events"
	sleep "$((DISABLE_AT - LOAD_AT))"
	s=$(now_s)
	"$B/uklp" disable "$SPID" "$PATCH_NAME" >"$OUT/disable.rb.$1" 2>&1
	drc=$?
	e=$(now_s)
	echo "EVENT disable start=$s end=$e rc=$drc" >>"$OUT/rb.$1.events"
	sleep "$((DUR - DISABLE_AT))"
	echo "START $t0" >>"$OUT/rb.$1.events"
	# Still running: it exits at the first error reply or lost connection.
	if ! kill -0 "$BPID" 2>/dev/null; then
		echo "bench-redis: rb run $1: redis-benchmark ended early: $(cat "$OUT/rb.$1.err")" >&2
		rc=1
	fi
	grep -qi 'error' "$OUT/rb.$1.err" && rc=1
	kill -KILL "$BPID" 2>/dev/null
	wait "$BPID" 2>/dev/null
	BPID=
	wait "$spid" 2>/dev/null
	rm -f "$OUT/rb.fifo"
	((lrc == 0 && drc == 0)) || rc=1
	stop_server "rb.$1" || rc=1
	((rc == 0)) || echo "bench-redis: rb run $1 failed (see $OUT/rb.$1*)" >&2
	return $rc
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
failed=0
for ((i = 1; i <= RUNS; i++)); do
	echo "bench-redis: run $i of $RUNS" >&2
	run_pingload "$i" || failed=1
	run_rb "$i" || failed=1
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# rb_windows I EVENT - the rb run's windows for EVENT (load/disable):
# "before of after" requests/s and mean latency in ms, from the 250 ms
# lines whose interval ends in each window.
rb_windows()
{
	awk -v ev="$2" '
	FNR == NR {
		if ($1 == "EVENT" && $2 == ev) {
			sub("start=", "", $3); sub("end=", "", $4);
			s = $3; e = $4;
		}
		next;
	}
	{
		t = $1; rps = $3; sub("rps=", "", rps);
		lat = $6; sub("avg_msec=", "", lat);
		# Its first line, before any reply, says 0 and nan; a later
		# interval with no reply is a 0 that counts (no latency then).
		if (!started && rps + 0 == 0) next;
		started = 1;
		of_end = (e - s > 1) ? e : s + 1;
		w = "";
		if (t >= s - 1 && t < s) w = "b";
		else if (t >= s && t < of_end) w = "o";
		else if (t >= of_end && t < of_end + 1) w = "a";
		if (w == "") next;
		n[w]++; r[w] += rps;
		if (lat !~ /nan/) { nl[w]++; l[w] += lat; }
	}
	END {
		printf("%s %s %s %s %s %s\n",
		       n["b"] ? sprintf("%.0f", r["b"] / n["b"]) : "-",
		       n["o"] ? sprintf("%.0f", r["o"] / n["o"]) : "-",
		       n["a"] ? sprintf("%.0f", r["a"] / n["a"]) : "-",
		       nl["b"] ? sprintf("%.3f", l["b"] / nl["b"]) : "-",
		       nl["o"] ? sprintf("%.3f", l["o"] / nl["o"]) : "-",
		       nl["a"] ? sprintf("%.3f", l["a"] / nl["a"]) : "-");
	}' "$OUT/rb.$1.events" "$OUT/rb.$1"
}

# One row per run and event, from pingload's EVENT/WINDOW lines:
# run event dur_ms switch_ms ops_b ops_o ops_a p99_b p99_o p99_a max_o
# errors rc ops_during rb_b rb_o rb_a rblat_b rblat_o rblat_a
# srv_stop_of srv_wait_of cli_wait_of srv_wait_b cli_wait_b srv_stop_during
# nstops maxstop_ms (the tool's own count of its thread stops)
rows()
{
	local i ev j

	for ((i = 1; i <= RUNS; i++)); do
		j=0
		for ev in load disable; do
			awk -v j="$j" -v run="$i" -v ev="$ev" -v rb="$(rb_windows "$i" "$ev")" \
				-v stops="$(sort -n "$OUT/pauses.$ev.$i" 2>/dev/null |
					awk '{ n++; m = $1 } END { printf("%d %.1f", n, m / 1e6) }')" '
			function kv(key,   m) {
				if (match($0, " " key "=[^ ]*"))
					return substr($0, RSTART + length(key) + 2, RLENGTH - length(key) - 2);
				return "-";
			}
			$1 == "EVENT" && $2 == j { dur = kv("dur_ms"); sw = kv("switch_ms"); rc = kv("rc"); }
			$1 == "WINDOW" && $2 == j {
				w = kv("name");
				ops[w] = kv("ops_s"); p99[w] = kv("p99_us"); mx[w] = kv("max_us");
				sst[w] = kv("srv_stop_ms"); swt[w] = kv("srv_wait_ms"); cwt[w] = kv("cli_wait_ms");
				if (w != "during")
					err += kv("errors");
			}
			END {
				if (dur == "") { dur = "-"; rc = "-"; sw = "-"; }
				printf("%s %s %s %s %s %s %s %s %s %s %s %d %s %s %s %s %s %s %s %s %s\n", run, ev, dur, sw,
				       ops["before"], ops["of"], ops["after"], p99["before"],
				       p99["of"], p99["after"], mx["of"], err, rc, ops["during"], rb,
				       sst["of"], swt["of"], cwt["of"], swt["before"], cwt["before"],
				       sst["during"] " " stops);
			}' "$OUT/pingload.$i"
			j=$((j + 1))
		done
	done
}
rows >"$OUT/rows"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(grep -c '^processor' /proc/cpuinfo)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- tool runtime common include samples/redis bench/redis 2>/dev/null ||
	rev="$rev (modified: $(git diff --name-only HEAD -- tool runtime common include samples/redis bench/redis | tr '\n' ' '))"
pkgv=$(dpkg-query -W -f='${Version}' redis-server 2>/dev/null)

{
	cat <<EOF
# redis-server around \`uklp load\`

Generated by \`make bench\` (bench/redis/run.sh); do not edit by hand.

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- CPU: $cpu ($ncpu CPUs); kernel $(uname -r); load average $load0 before, $load1 after
- redis-server $pkgv (Debian, unmodified, build-id $bid), the patch
  samples/redis/redis-ping.c (pingCommand(), a prologue site)
- tree: $rev

The machine is shared with other jobs (see the load average): figures move
a lot from second to second and from run to run. Compare the columns of one
row (one run, one server, seconds apart), not rows with each other.

Each run: a fresh redis-server, 50 connections with one PING in flight
each ($BD/bench/redis/redis-pingload, $THREADS thread(s)), 8 s; \`uklp load\` at 3 s
(it also injects the runtime: the server was started normally), \`uklp
disable\` at 6 s. Windows: **before** is the second before the command
starts, **of** the second from its start (or the whole command, were it
longer), **after** the next second. ops/s counts the replies completed in
the window; latency is each reply's, from its request's send. "switch" is
when the first reply of the new kind arrived (patched after load, original
after disable), from the command's start; "cmd" is the command's duration
(fork to exit). Errors: error replies and lost connections (none allowed).

| run | command | cmd (ms) | switch (ms) | ops/s before | ops/s of | ops/s after | of / before | ops/s during cmd | p99 before (µs) | p99 of (µs) | p99 after (µs) | max of (µs) | errors |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
	awk '{
		ratio = ($5 > 0 && $6 != "-") ? sprintf("%.3f", $6 / $5) : "-";
		cmd = $13 == "0" ? $3 : sprintf("%s, FAILED (exit %s)", $3, $13);
		printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		       $1, $2, cmd, $4, $5, $6, $7, ratio, $14, $8, $9, $10, $11, $12);
	}' "$OUT/rows"
	echo
	echo "Target (issue): no errors, and ops/s in the second of the load at least"
	echo "95 % of the second before."
	echo
	awk '$2 == "load" {
		ratio = $5 > 0 ? $6 / $5 : 0;
		st = (ratio >= 0.95 && $12 == 0 && $13 == "0") ? "met" : "MISSED";
		printf("- run %s: %.1f %% of the second before, %d errors: %s\n", $1, 100 * ratio, $12, st);
		n++; if (st == "met") m++;
		r[n] = ratio;
	}
	END {
		# median ratio
		for (i = 1; i <= n; i++) for (k = i + 1; k <= n; k++) if (r[k] < r[i]) { t = r[i]; r[i] = r[k]; r[k] = t; }
		if (n) printf("- met in %d of %d runs; median of the ratios %.1f %%\n", m, n, 100 * (n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2));
	}' "$OUT/rows"
	cat <<EOF

Who had the CPUs, in the same windows (ms): pingload (-P) samples every
2 ms the state of the server's main thread (redis' event loop; 2 ms per
sample that saw it in a ptrace stop of the uklp tool: a sampler kept off
the CPUs undercounts) and the scheduler's statistics: the time the server's
main thread and the load threads were runnable but waiting for a CPU. A
dip in the "of" second with a large wait there is the machine's, not the
patch's. "tool stops" are the uklp command's own record of its stops of
the server's threads, any thread (UKLP_TOOL_PAUSES): how many, and the
longest from seize to detach.

| run | command | main thread stopped (ptrace), of | stopped, during cmd | tool stops: n, longest (ms) | server waiting for a CPU, before | of | load threads waiting, before | of |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
	awk '{
		printf("| %s | %s | %s | %s | %s, %s | %s | %s | %s | %s |\n",
		       $1, $2, $21, $26, $27, $28, $24, $22, $25, $23);
	}' "$OUT/rows"
	cat <<EOF

## The same with redis-benchmark

On another fresh server per run: \`redis-benchmark -c 50 -t ping_mbulk\`
(the same requests) with the same two commands at 3 s and 6 s.
redis-benchmark 7.0 prints percentiles only for a whole test; while it runs
it prints the requests/s and mean latency of the last 250 ms, which are
timestamped here when read (a reader kept off the CPUs shifts them). A
window's figure is the mean of the 250 ms figures whose interval ends in
it (edges only as sharp as 250 ms). It exits at the first error
reply or lost connection; it was still running when it was stopped, 2 s
after the disable, in every run not marked failed below.

| run | command | req/s before | req/s of | req/s after | of / before | mean latency before (ms) | of (ms) | after (ms) |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
	awk '{
		ratio = ($15 != "-" && $16 != "-" && $15 > 0) ? sprintf("%.3f", $16 / $15) : "-";
		printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		       $1, $2, $15, $16, $17, ratio, $18, $19, $20);
	}' "$OUT/rows"
	cat <<EOF

## Method

- pingload: \`$BD/bench/redis/redis-pingload -p PORT -c 50 -t $THREADS -d $DUR
  -x "$LOAD_AT:uklp load PID $BD/samples/redis/redis-ping.so" -x "$DISABLE_AT:uklp disable PID $PATCH_NAME"\`;
  its output (EVENT/WINDOW/TOTAL lines) and a 100 ms timeline in
  $BD/bench/redis/out/pingload.N and timeline.N.
- redis-benchmark: \`redis-benchmark -c 50 -n 1000000000 -t ping_mbulk\`,
  stopped 2 s after the disable; raw lines in $BD/bench/redis/out/rb.N, the commands'
  times in rb.N.events.
- The runtime's log of each server (\`uklp log\`) is in $BD/bench/redis/out/uklp-log.*.
- Runs: $RUNS; pingload and redis-benchmark runs alternate.
EOF
	if ((failed)); then
		echo
		echo "## Failed runs"
		echo
		for f in "$OUT"/pingload.*.err "$OUT"/rb.*.err; do
			[[ -s $f ]] && sed "s|^|- ${f##*/}: |" "$f" | head -n 5
		done
	fi
} >"$RES"

sed -n '/^| run/,/^$/p' "$RES"
grep '^- run\|^- met' "$RES"
echo "bench-redis: wrote $RES" >&2
exit $failed
