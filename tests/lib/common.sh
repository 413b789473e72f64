# shellcheck shell=bash
# common.sh - helpers of the conformance scenarios: the kernel's
# tools/testing/selftests/livepatch/functions.sh for a user-space target.
#
# A scenario (tests/conformance/NAME.sh, run with bash) does:
#
#	. "$(dirname "$0")/../lib/common.sh"
#	start_target			# build/tests/target, runtime preloaded
#	start_test "basic function patching"
#	load_lp test_klp_livepatch	# "load patches/test_klp_livepatch.so" + wait
#	check_call cmdline_show "test_klp_livepatch: this has been live patched"
#	disable_lp test_klp_livepatch	# "disable test_klp_livepatch" + wait
#	check_result "% load patches/test_klp_livepatch.so
#	livepatch: enabling patch 'test_klp_livepatch'
#	..."
#	pass
#
# The build directory is $UKLP_BUILD, else the script's first argument,
# else ./build. A scenario exits 0 (pass), 1 (fail) or 77 (skip; the last
# line it printed says why). Whatever it started is killed when it exits,
# whichever way it exits.
#
# The target's protocol is described at the top of tests/target/target.c.
# Kernel -> here: "% insmod test_modules/M.ko" of a livepatch is the
# target's marker "% load patches/M.so", of a target module "% dlopen
# libM.so"; "% rmmod M" of a target module is "% dlclose libM.so", of a
# livepatch there is none (a disabled patch is unloaded by the runtime);
# "% echo 0 > /sys/kernel/livepatch/M/enabled" is "% disable M".

UKLP_BUILD=${UKLP_BUILD:-${1:-build}}
# Seconds to wait for the target's answer to one command.
UKLP_CMD_TIMEOUT=${UKLP_CMD_TIMEOUT:-60}
# Milliseconds to wait for a transition (the kernel's load_lp waits 60 s).
UKLP_TRANSITION_MS=${UKLP_TRANSITION_MS:-30000}

B=$(cd "$UKLP_BUILD" 2>/dev/null && pwd) || {
	echo "FAIL: no build directory '$UKLP_BUILD'"
	exit 1
}
T=$B/tests

# What klp_object_state_name() says where the kernel's callbacks print
# "[MODULE_STATE_LIVE] Normal state", "[MODULE_STATE_COMING] ..." and
# "[MODULE_STATE_GOING] Going away".
# shellcheck disable=SC2034
STATE_LIVE=loaded
# shellcheck disable=SC2034
STATE_COMING=coming
# shellcheck disable=SC2034
STATE_GOING=going

TARGET_PID=
TARGET_IN=
TARGET_OUT=
CANARY=
NCANARY=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/uklp-test.XXXXXX") || exit 1

# Results of the last cmd.
CMD_OUT=
CMD_RC=0
CMD_MSG=

cleanup()
{
	stop_target
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
# A write to a dead target fails (and is reported) instead of killing us.
trap '' PIPE

# die MSG - fail the scenario.
die()
{
	echo "FAIL: $*"
	if [[ -s $WORK/target.stderr ]]; then
		# A crash report's start says what crashed (redis-server's
		# bug report prints the signal and the stack first).
		if grep -q 'BUG REPORT START' "$WORK/target.stderr"; then
			echo "--- target stderr (crash report, first lines):"
			sed -n '/BUG REPORT START/,$p' "$WORK/target.stderr" |
				head -n 60
		fi
		echo "--- target stderr (last lines):"
		tail -n 20 "$WORK/target.stderr"
	fi
	exit 1
}

# skip REASON - the scenario cannot run here.
skip()
{
	echo "$*"
	exit 77
}

pass()
{
	exit 0
}

# start_target [VARIANT] - start build/tests/target[-VARIANT] with the
# runtime preloaded, as a coprocess driven through cmd. With
# UKLP_TARGET_VARIANT=V (tests/run.sh sets it), start the "plain" target
# build/tests/plain/V/target instead (no compiler sites: prologue sites;
# V is O0-pie, O0-nopie, O2-pie, ... see tests/tests.mk); it opens the
# libraries of its own directory. A scenario that asks for a site flavour
# (VARIANT) cannot run on a plain target and is skipped.
start_target()
{
	local exe=$T/target${1:+-$1}

	if [[ -n ${UKLP_TARGET_VARIANT:-} ]]; then
		[[ -z ${1:-} ]] ||
			skip "needs the target-$1 build, not plain/$UKLP_TARGET_VARIANT"
		exe=$T/plain/$UKLP_TARGET_VARIANT/target
	fi
	[[ -x $exe ]] || die "$exe is not built"
	[[ -f $B/libuklp.so ]] || die "$B/libuklp.so is not built"
	[[ -z $TARGET_PID ]] || die "start_target: a target is running"

	if [[ $UKLP_MODE == tool ]]; then
		# A process started normally: the tool injects the runtime.
		coproc TARGET_CO {
			exec "$exe" 2>"$WORK/target.stderr"
		}
	else
		coproc TARGET_CO {
			exec env LD_PRELOAD="$B/libuklp.so" "$exe" \
				2>"$WORK/target.stderr"
		}
	fi
	TARGET_PID=$TARGET_CO_PID
	# Own copies (bash forgets the coprocess's descriptors when it exits),
	# and only them: closing TARGET_IN must be the target's end of input.
	exec {TARGET_IN}>&"${TARGET_CO[1]}" {TARGET_OUT}<&"${TARGET_CO[0]}"
	eval "exec ${TARGET_CO[1]}>&- ${TARGET_CO[0]}<&-"

	if [[ $UKLP_MODE == tool ]]; then
		cmd "call cmdline_show" >/dev/null ||
			die "the target does not answer: $CMD_MSG"
		"$B/uklp" inject "$TARGET_PID" >"$WORK/inject.out" 2>&1 ||
			die "uklp inject failed: $(cat "$WORK/inject.out")"
	fi
	cmd log || die "the runtime does not answer in the target: $CMD_MSG"
}

# tool_cmd LINE - in tool mode, the control commands of the target's
# protocol are carried out by the uklp tool from outside; the marker a
# state-changing command leaves in the log is written through the target.
# Sets CMD_OUT, CMD_RC (the runtime's -errno, printed by the tool as
# "uklp-rc: N" under UKLP_TOOL_RC=1) and CMD_MSG like cmd.
tool_cmd()
{
	local verb=${1%% *} arg=${1#* } rc=0 path
	local -a argv

	case $verb in
	load | check)
		path=$arg
		[[ $path == /* ]] || path=$T/$path
		;;
	esac
	case $verb in
	load | disable | enable | force)
		printf '%s\n' "mark % $1" 1>&"$TARGET_IN" 2>/dev/null ||
			die "cmd '$1': the target is gone"
		IFS= read -r -t "$UKLP_CMD_TIMEOUT" _ <&"$TARGET_OUT" ||
			die "cmd 'mark': no answer"
		;;
	esac
	case $verb in
	load) argv=(load --no-wait "$TARGET_PID" "$path") ;;
	check) argv=(check "$TARGET_PID" "$path") ;;
	disable | enable | force) argv=("$verb" --no-wait "$TARGET_PID" "$arg") ;;
	wait) argv=(wait --timeout "$(((arg + 999) / 1000))" "$TARGET_PID") ;;
	list) argv=(list "$TARGET_PID") ;;
	listjson) argv=(list --json "$TARGET_PID") ;;
	log) argv=(log "$TARGET_PID") ;;
	esac
	[[ $verb == force || $verb == enable ]] && argv=("$verb" "$TARGET_PID" "$arg")
	CMD_OUT=$(UKLP_TOOL_RC=1 "$B/uklp" "${argv[@]}" 2>"$WORK/tool.err") || rc=$?
	CMD_RC=0 CMD_MSG=''
	if ((rc)); then
		CMD_RC=$(sed -n 's/^uklp-rc: //p' "$WORK/tool.err" | tail -n 1)
		[[ -n $CMD_RC && $CMD_RC != 0 ]] || CMD_RC=-$rc
		CMD_MSG=$(grep -v '^uklp-rc: ' "$WORK/tool.err" | tail -n 3)
	fi
	[[ $CMD_RC == 0 ]]
}

# stop_target - end the target: end of its input, then SIGKILL after 3 s.
stop_target()
{
	local i

	[[ -n $TARGET_PID ]] || return 0
	[[ -z $TARGET_IN ]] || exec {TARGET_IN}>&-
	[[ -z $TARGET_OUT ]] || exec {TARGET_OUT}<&-
	TARGET_IN='' TARGET_OUT=''
	for ((i = 0; i < 30; i++)); do
		kill -0 "$TARGET_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$TARGET_PID" 2>/dev/null
	wait "$TARGET_PID" 2>/dev/null
	TARGET_PID=
}

# cmd LINE [TIMEOUT_S] - send one command; its data lines go to CMD_OUT,
# "err RC MSG" to CMD_RC and CMD_MSG. Returns 0 for ok, 1 for err; dies
# when the target does not answer.
cmd()
{
	local line rc timeout=${2:-$UKLP_CMD_TIMEOUT}
	local -a out=()

	CMD_OUT='' CMD_RC=0 CMD_MSG=''
	[[ -n $TARGET_PID ]] || die "cmd '$1': no target"
	if [[ $UKLP_MODE == tool ]]; then
		case ${1%% *} in
		load | check | disable | enable | force | wait | list | listjson | log)
			tool_cmd "$1"
			return
			;;
		esac
	fi
	printf '%s\n' "$1" 1>&"$TARGET_IN" 2>/dev/null ||
		die "cmd '$1': the target is gone"
	while :; do
		if ! IFS= read -r -t "$timeout" line <&"$TARGET_OUT"; then
			rc=$?
			((rc > 128)) && die "cmd '$1': no answer in ${timeout}s"
			die "cmd '$1': the target exited"
		fi
		case $line in
		ok)
			break
			;;
		"err "*)
			line=${line#err }
			CMD_RC=${line%% *}
			CMD_MSG=${line#"$CMD_RC"}
			CMD_MSG=${CMD_MSG# }
			break
			;;
		*)
			out+=("$line")
			;;
		esac
	done
	if ((${#out[@]})); then
		CMD_OUT=$(printf '%s\n' "${out[@]}")
	fi
	[[ $CMD_RC == 0 ]]
}

# expect_ok LINE - the command must succeed.
expect_ok()
{
	cmd "$1" || die "'$1' failed: $CMD_RC $CMD_MSG"
}

# expect_err RC LINE - the command must fail with RC (-errno), or any error
# when RC is "any".
expect_err()
{
	if cmd "$2"; then
		die "'$2' succeeded, expected an error ($1)"
	fi
	[[ $1 == any || $1 == "$CMD_RC" ]] ||
		die "'$2' failed with $CMD_RC ($CMD_MSG), expected $1"
}

# mark TEXT - a line of the runtime's log (the scripts' "log" to /dev/kmsg).
mark()
{
	expect_ok "mark $1"
}

# start_test TITLE - like the kernel's: only log lines after this point
# count for the next check_result.
start_test()
{
	NCANARY=$((NCANARY + 1))
	CANARY="===== TEST $NCANARY: $1 ====="
	echo "TEST: $1"
	mark "$CANARY"
}

# wait_transition - wait for the transition in progress to complete.
wait_transition()
{
	cmd "wait $UKLP_TRANSITION_MS" $((UKLP_TRANSITION_MS / 1000 + 30)) ||
		die "transition not complete after ${UKLP_TRANSITION_MS} ms: $CMD_RC $CMD_MSG"
}

# load_lp [VARIANT/]NAME - load build/tests/patches/[VARIANT/]NAME.so and
# wait for its transition.
load_lp()
{
	load_lp_nowait "$1"
	wait_transition
}

load_lp_nowait()
{
	expect_ok "load patches/$1.so"
}

# load_failing_lp RC [VARIANT/]NAME - the load must fail with RC (or "any").
load_failing_lp()
{
	expect_err "$1" "load patches/$2.so"
}

# disable_lp NAME - disable the patch and wait until it is gone.
disable_lp()
{
	expect_ok "disable $1"
	wait_transition
}

# load_mod NAME - dlopen libNAME.so (the kernel's target module NAME).
load_mod()
{
	expect_ok "dlopen lib$1.so"
}

# load_failing_mod NAME - its dlopen must fail.
load_failing_mod()
{
	expect_err any "dlopen lib$1.so"
}

# unload_mod NAME - dlclose libNAME.so.
unload_mod()
{
	expect_ok "dlclose lib$1.so"
}

# call_fn FUNC - print what FUNC() returns in the target.
call_fn()
{
	expect_ok "call $1"
	printf '%s\n' "$CMD_OUT"
}

# check_call FUNC EXPECTED - FUNC() must return EXPECTED.
check_call()
{
	expect_ok "call $1"
	[[ $CMD_OUT == "$2" ]] ||
		die "$1() returned '$CMD_OUT', expected '$2'"
}

# log_call FUNC - log FUNC()'s result if it is a patched one, as the
# kernel tests do with "grep 'live patched' /proc/cmdline > /dev/kmsg".
log_call()
{
	expect_ok "call $1"
	if [[ $CMD_OUT == *"live patched"* ]]; then
		mark "$CMD_OUT"
	fi
}

# get_log - the runtime's log since the last start_test, filtered as the
# kernel's check_result filters dmesg: timestamps and levels stripped, only
# lines starting with "livepatch:", "test_klp" or "% " kept.
get_log()
{
	expect_ok log
	printf '%s\n' "$CMD_OUT" |
		sed -e 's/^<[0-7]>//' -e 's/^\[[ 0-9.]*\] //' |
		awk -v canary="$CANARY" 'p; canary != "" && index($0, canary) { p = 1 }' |
		grep -E '^(livepatch:|test_klp|% )'
}

# check_result EXPECTED - the filtered log must be EXPECTED, exactly.
check_result()
{
	local expect=$1 result

	result=$(get_log)
	if [[ $expect != "$result" ]]; then
		echo "not ok: log differs from the kernel's transcript"
		diff -u --label expected --label actual \
			<(printf '%s\n' "$expect") <(printf '%s\n' "$result")
		die "check_result: unexpected log"
	fi
	echo "ok"
}

# log_contains TEXT - some line of the log since start_test contains TEXT.
log_contains()
{
	expect_ok log
	printf '%s\n' "$CMD_OUT" |
		awk -v canary="$CANARY" 'p; canary != "" && index($0, canary) { p = 1 }' |
		grep -qF -- "$1"
}

# The "uklp list" tree (the kernel's /sys/kernel/livepatch) as path=value
# lines. The text form is read as an indented tree: each line is a node
# "name", "name: value", "name=value" or "name value"; its path is the
# names of the nodes above it joined by "/", e.g.
#	test_klp_livepatch
#	  enabled: 1
#	  vmlinux
#	    patched: 1
#	    cmdline_show,0
# gives test_klp_livepatch/enabled=1, test_klp_livepatch/vmlinux/patched=1
# and test_klp_livepatch/vmlinux/cmdline_show,0= (flat "a/b: v" lines work
# as well).
list_paths()
{
	expect_ok list
	printf '%s\n' "$CMD_OUT" | awk '
	/^[ \t]*$/ { next }
	{
		line = $0
		gsub(/\t/, "        ", line)
		match(line, /^ */)
		ind = RLENGTH
		body = substr(line, ind + 1)
		sub(/[ \t]+$/, "", body)
		key = body
		val = ""
		if (match(body, /[:=][ \t]*|[ \t]+/)) {
			key = substr(body, 1, RSTART - 1)
			val = substr(body, RSTART + RLENGTH)
		}
		while (n > 0 && ind <= indent[n])
			n--
		n++
		indent[n] = ind
		name[n] = key
		path = name[1]
		for (i = 2; i <= n; i++)
			path = path "/" name[i]
		print path "=" val
	}'
}

# list_value PATH - print the value at PATH of "uklp list"; fails if absent.
list_value()
{
	list_paths | awk -v p="$1=" '
		index($0, p) == 1 { print substr($0, length(p) + 1); found = 1; exit }
		END { exit !found }'
}

# check_list_value PATH EXPECTED - the kernel's check_sysfs_value.
check_list_value()
{
	local v

	v=$(list_value "$1") || die "'$1' is not in the list:
$(list_paths)"
	[[ $v == "$2" ]] || die "'$1' is '$v', expected '$2'"
}

# check_list_exists PATH - a node PATH is in the list.
check_list_exists()
{
	list_value "$1" >/dev/null || die "'$1' is not in the list:
$(list_paths)"
}

# count_patches - how many patches "uklp list" shows.
count_patches()
{
	list_paths | awk -F/ '{ sub(/=.*/, "", $1); if (!seen[$1]++) n++ } END { print n + 0 }'
}

# loop_until CMD - evaluate CMD every 0.1 s until it succeeds, 60 s at most.
loop_until()
{
	local i

	for ((i = 0; i < 600; i++)); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}
