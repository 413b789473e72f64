# shellcheck shell=bash
# redis.sh - helpers of the scenarios on Debian's unmodified redis-server
# (tests/tool/redis-*.sh), on top of tool.sh (run_uklp, track_pid, die,
# skip; everything started is killed on exit).
#
#	. "$(dirname "$0")/lib/redis.sh"
#	redis_need			# installs redis-server/redis-tools or skips
#	redis_start /usr/bin/redis-server	# REDIS_PID, REDIS_PORT
#	rcli PING			# redis-cli against it -> RC_OUT
#	conn_open A			# a raw connection kept open: fd in A
#	conn_cmd A 1 PING		# one command, N reply lines -> CONN_OUT
#
# The patch is samples/redis/redis-ping.c, built as
# $B/samples/redis/redis-ping.so; REDIS_BUILD_ID is the build of
# /usr/bin/redis-server it is pinned to (read from its source).

# shellcheck source-path=SCRIPTDIR source=tool.sh
. "$(dirname "${BASH_SOURCE[0]}")/tool.sh"

SRC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
REDIS_PATCH=$B/samples/redis/redis-ping.so
# shellcheck disable=SC2034
REDIS_PATCH_NAME=redis-ping
REDIS_BUILD_ID=$(sed -n 's/^#define REDIS_BUILD_ID "\([0-9a-f]*\)"$/\1/p' \
	"$SRC_TOP/samples/redis/redis-ping.c")
# The patched reply of PING without argument (redis-cli prints it as is).
# shellcheck disable=SC2034
PATCHED_PONG=$(sed -n 's/^#define PATCHED_PONG "\(.*\)"$/\1/p' \
	"$SRC_TOP/samples/redis/redis-ping.c")
REDIS_PID=
REDIS_PORT=

[[ -f $REDIS_PATCH ]] || die "$REDIS_PATCH is not built (make samples-build)"
[[ ${#REDIS_BUILD_ID} == 40 ]] || die "no REDIS_BUILD_ID in samples/redis/redis-ping.c"
[[ -n $PATCHED_PONG ]] || die "no PATCHED_PONG in samples/redis/redis-ping.c"

# redis_need - Debian's redis-server and redis-tools are installed
# (tests/lib/deps.sh redis installs them as root), else skip with the
# reason.
redis_need()
{
	local why

	if ! why=$(sh "$SRC_TOP/tests/lib/deps.sh" redis 2>&1); then
		skip "redis-server/redis-tools are not installed and could not be: $(tail -n 1 <<<"$why")"
	fi
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null ||
		! command -v redis-benchmark >/dev/null; then
		skip "redis-server, redis-cli or redis-benchmark not found after installing the packages"
	fi
}

# build_id FILE - the GNU build-id of FILE (lowercase hex), or nothing.
build_id()
{
	readelf -n "$1" 2>/dev/null | sed -n 's/.*Build ID: *//p' | head -n 1
}

# port_in_use PORT - a TCP socket of this machine has local port PORT.
port_in_use()
{
	local hex

	hex=$(printf '%04X' "$1")
	grep -qE "^ *[0-9]+: [0-9A-F]+:$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# redis_start EXE - start EXE as a redis server on 127.0.0.1, a free port,
# with no persistence, not daemonized, without LD_PRELOAD; wait until it
# answers PING. Sets REDIS_PID and REDIS_PORT; its output goes to
# $WORK/target.stderr (die shows its end).
redis_start()
{
	local exe=$1 try i port

	[[ -z $REDIS_PID ]] || die "redis_start: a server is running"
	for ((try = 0; try < 10; try++)); do
		port=$((20000 + RANDOM % 10000))
		port_in_use "$port" && continue
		env -u LD_PRELOAD "$exe" --port "$port" --bind 127.0.0.1 \
			--save '' --appendonly no --daemonize no --dir "$WORK" \
			>"$WORK/target.stderr" 2>&1 &
		REDIS_PID=$!
		track_pid "$REDIS_PID"
		for ((i = 0; i < 300; i++)); do
			if ! kill -0 "$REDIS_PID" 2>/dev/null; then
				wait "$REDIS_PID" 2>/dev/null
				REDIS_PID=
				grep -q 'Address already in use' "$WORK/target.stderr" &&
					continue 2
				die "$exe exited at start"
			fi
			[[ $(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]] &&
				break
			sleep 0.1
		done
		((i < 300)) || die "$exe does not answer PING on port $port after 30 s"
		REDIS_PORT=$port
		echo "redis: $exe running as process $REDIS_PID on 127.0.0.1:$REDIS_PORT"
		return 0
	done
	die "no free port for redis-server after 10 tries"
}

# rcli ARGS... - redis-cli ARGS against the server; output in RC_OUT.
rcli()
{
	RC_OUT=$(timeout -k 5 30 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>&1)
}

# expect_cli EXPECTED ARGS... - redis-cli ARGS prints exactly EXPECTED.
expect_cli()
{
	local want=$1

	shift
	rcli "$@"
	[[ $RC_OUT == "$want" ]] ||
		die "redis-cli $* answers '$RC_OUT', expected '$want'"
	echo "ok: redis-cli $* -> $RC_OUT"
}

# redis_info SECTION FIELD - FIELD of INFO SECTION, in INFO_VAL.
redis_info()
{
	rcli INFO "$1"
	INFO_VAL=$(tr -d '\r' <<<"$RC_OUT" | sed -n "s/^$2://p")
	[[ -n $INFO_VAL ]] || die "INFO $1 has no $2: $RC_OUT"
}

# conn_open VAR - a TCP connection to the server kept open; its
# descriptor in VAR.
conn_open()
{
	local fd

	exec {fd}<>"/dev/tcp/127.0.0.1/$REDIS_PORT" ||
		die "cannot connect to 127.0.0.1:$REDIS_PORT"
	printf -v "$1" '%s' "$fd"
}

# conn_cmd VAR N LINE - send the inline command LINE on connection VAR and
# read N reply lines; CONN_OUT gets them joined with '|' (without \r).
conn_cmd()
{
	local fd=${!1} n=$2 line i
	local -a got=()

	printf '%s\r\n' "$3" 1>&"$fd" 2>/dev/null ||
		die "connection $1: cannot send '$3' (closed by the server?)"
	for ((i = 0; i < n; i++)); do
		IFS= read -r -t 30 -u "$fd" line ||
			die "connection $1: no reply line $((i + 1)) of $n to '$3' (got: ${got[*]})"
		got+=("${line%$'\r'}")
	done
	CONN_OUT=$(IFS='|' && echo "${got[*]}")
}

# expect_conn VAR N LINE EXPECTED - conn_cmd VAR N LINE gives EXPECTED.
expect_conn()
{
	conn_cmd "$1" "$2" "$3"
	[[ $CONN_OUT == "$4" ]] ||
		die "connection $1: '$3' answers '$CONN_OUT', expected '$4'"
	echo "ok: connection $1: $3 -> $CONN_OUT"
}

# exe_text_hash - the hash of redis-server's executable text mapping (the
# snapshot tool's), in TEXT_HASH.
exe_text_hash()
{
	local exe

	exe=$(readlink "/proc/$REDIS_PID/exe") || die "redis-server is gone"
	"$SNAPSHOT" "$REDIS_PID" >"$WORK/snap" 2>"$WORK/snap.err" ||
		die "snapshot of $REDIS_PID failed: $(cat "$WORK/snap.err")"
	TEXT_HASH=$(awk -v p="$exe" '$1 == "hash" && $3 == p { print $4 }' "$WORK/snap")
	[[ -n $TEXT_HASH ]] || die "no executable text mapping of $exe in the snapshot"
}

# fn_bytes SYMBOL N - the first N bytes of the executable's exported
# function SYMBOL in the running server, as hex pairs, in FN_BYTES.
fn_bytes()
{
	local exe base off

	exe=$(readlink "/proc/$REDIS_PID/exe") || die "redis-server is gone"
	off=$(nm -D --defined-only "$exe" | awk -v s="$1" '$3 == s { print $1; exit }')
	[[ -n $off ]] || die "$exe exports no $1"
	base=$(awk -v p="$exe" '$6 == p && $3 == "00000000" { split($1, a, "-"); print a[1]; exit }' \
		"/proc/$REDIS_PID/maps")
	[[ -n $base ]] || die "$exe is not mapped in process $REDIS_PID"
	FN_BYTES=$(dd if="/proc/$REDIS_PID/mem" bs=4096 iflag=skip_bytes,count_bytes \
		skip=$((0x$base + 0x$off)) count="$2" 2>/dev/null | od -An -tx1 | tr -s ' \n' ' ')
	FN_BYTES=${FN_BYTES# }
	FN_BYTES=${FN_BYTES% }
	[[ -n $FN_BYTES ]] || die "cannot read $1 in process $REDIS_PID"
}

# show_uklp_log - the runtime's log in redis-server (when a check fails).
show_uklp_log()
{
	echo "--- uklp log $REDIS_PID:"
	timeout -k 5 30 "$UKLP" log "$REDIS_PID" 2>&1 | tail -n 40
}

# die MSG - common.sh's, after the runtime's log of a running server.
eval "common_$(declare -f die)"
die()
{
	[[ -z $REDIS_PID ]] || ! kill -0 "$REDIS_PID" 2>/dev/null || show_uklp_log
	common_die "$@"
}
