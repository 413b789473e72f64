# shellcheck shell=bash
# tool.sh - helpers of the uklp tool's scenarios (tests/tool/*.sh), on top
# of tests/lib/common.sh (its cmd, die, skip, pass, stop_target and the
# cleanup of everything started).
#
# A scenario does:
#
#	. "$(dirname "$0")/lib/tool.sh"
#	start_plain_target		# build/tests/target, no runtime
#	snap before			# mappings + code hashes
#	run_uklp load "$TARGET_PID" "$TP/tool_missing_symbol.so"
#	expect_exit 1 "symbol 'no_such_function' not found"
#	snap after
#	same_snap before after
#	check_original
#	pass
#
# Whatever a scenario starts is killed when it exits, whichever way: the
# target by common.sh, other processes listed with track_pid.

# shellcheck disable=SC2034 # used by common.sh
UKLP_MODE=tool
# shellcheck source-path=SCRIPTDIR source=../../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../lib/common.sh"

UKLP=$B/uklp
SNAPSHOT=$B/tests/tool/snapshot
# The scenarios' own patches (tests/tool/patches) and the shared ones.
# shellcheck disable=SC2034
TP=$B/tests/tool/patches
P=$T/patches
# Seconds one uklp command may take before it counts as hung.
UKLP_TOOL_TIMEOUT=${UKLP_TOOL_TIMEOUT:-60}

ORIGINAL="cmdline: original"
# shellcheck disable=SC2034
PATCHED="test_klp_livepatch: this has been live patched"

[[ -x $UKLP ]] || die "$UKLP is not built"
[[ -x $SNAPSHOT ]] || die "$SNAPSHOT is not built (make tests-build)"

# Other processes to kill on exit (background uklp runs...).
EXTRA_PIDS=()

track_pid()
{
	EXTRA_PIDS+=("$1")
}

tool_cleanup()
{
	local p

	for p in "${EXTRA_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	EXTRA_PIDS=()
	cleanup
}
trap tool_cleanup EXIT

# start_plain_target [EXE] - start build/tests/target (or EXE, a build of
# it) as a coprocess, normally: no LD_PRELOAD, no runtime injected, with
# the scenario's exported environment. Checks that it answers (which also
# lets stdio allocate its buffers before any snapshot).
start_plain_target()
{
	local exe=${1:-$T/target}

	[[ -x $exe ]] || die "$exe is not built"
	[[ -z $TARGET_PID ]] || die "start_plain_target: a target is running"
	coproc TARGET_CO {
		exec "$exe" 2>"$WORK/target.stderr"
	}
	TARGET_PID=$TARGET_CO_PID
	# shellcheck disable=SC2034 # common.sh's cmd and stop_target use them
	exec {TARGET_IN}>&"${TARGET_CO[1]}" {TARGET_OUT}<&"${TARGET_CO[0]}"
	eval "exec ${TARGET_CO[1]}>&- ${TARGET_CO[0]}<&-"
	cmd "call cmdline_show" >/dev/null ||
		die "the target does not answer: $CMD_MSG"
	[[ $CMD_OUT == "$ORIGINAL" ]] ||
		die "a fresh target answers '$CMD_OUT', expected '$ORIGINAL'"
}

# inject - uklp inject the target (the runtime is then mapped and ready).
inject()
{
	run_uklp inject "$TARGET_PID"
	((UK_RC == 0)) || die "uklp inject $TARGET_PID failed ($UK_RC): $UK_ERR"
	has_runtime "$TARGET_PID" || die "uklp inject succeeded but libuklp.so is not mapped"
}

# has_runtime PID - libuklp.so is mapped in process PID.
has_runtime()
{
	grep -q 'libuklp\.so' "/proc/$1/maps" 2>/dev/null
}

# A command prefix for uklp (e.g. to run it as another user).
UKLP_WRAP=()

# run_uklp ARGS... - run build/uklp ARGS (under a timeout, after the
# UKLP_WRAP prefix) and record its exit status in UK_RC, its stdout in
# UK_OUT and its stderr in UK_ERR.
run_uklp()
{
	UK_RC=0
	timeout -k 5 "$UKLP_TOOL_TIMEOUT" "${UKLP_WRAP[@]}" "$UKLP" "$@" \
		>"$WORK/uklp.out" 2>"$WORK/uklp.err" || UK_RC=$?
	UK_OUT=$(cat "$WORK/uklp.out")
	UK_ERR=$(cat "$WORK/uklp.err")
	echo "\$ uklp $* -> exit $UK_RC"
	[[ -z $UK_OUT ]] || printf '%s\n' "$UK_OUT" | sed 's/^/  out: /'
	[[ -z $UK_ERR ]] || printf '%s\n' "$UK_ERR" | sed 's/^/  err: /'
	((UK_RC != 124 && UK_RC != 137)) ||
		die "uklp $* did not finish in ${UKLP_TOOL_TIMEOUT}s"
}

# expect_exit RC PHRASE... - the last run_uklp exited with RC and its
# stderr contains every PHRASE (fixed strings).
expect_exit()
{
	local rc=$1 phrase

	shift
	((UK_RC == rc)) || die "exit status $UK_RC, expected $rc"
	for phrase in "$@"; do
		grep -qF -- "$phrase" <<<"$UK_ERR" ||
			die "the message does not say '$phrase'"
	done
}

# expect_not_changed - the last run_uklp's message says the target was
# not changed (the tool's or the runtime's wording).
expect_not_changed()
{
	grep -qE 'the target was not changed|nothing was changed' <<<"$UK_ERR" ||
		die "the message does not say that the target was not changed"
}

# snap NAME - the target's snapshot (mappings + code hashes) into
# $WORK/NAME.snap.
snap()
{
	"$SNAPSHOT" "$TARGET_PID" >"$WORK/$1.snap" 2>"$WORK/$1.snap.err" ||
		die "snapshot of $TARGET_PID failed: $(cat "$WORK/$1.snap.err")"
	grep -q '^hash ' "$WORK/$1.snap" || die "snapshot $1 hashed nothing"
}

# same_snap A B - the two snapshots are equal: the target is unchanged.
same_snap()
{
	if ! diff -u "$WORK/$1.snap" "$WORK/$2.snap" >"$WORK/snap.diff"; then
		cat "$WORK/snap.diff"
		if diff <(grep '^hash ' "$WORK/$1.snap") \
			<(grep '^hash ' "$WORK/$2.snap") >/dev/null; then
			echo "(the code is the same: only the mappings differ)"
		else
			echo "(the code differs)"
		fi
		die "the target changed between snapshots '$1' and '$2'"
	fi
	echo "ok: target unchanged ($(grep -c '^map ' "$WORK/$2.snap") mappings, $(grep -c '^hash ' "$WORK/$2.snap") code hashes)"
}

# check_answer EXPECTED - cmdline_show() in the target returns EXPECTED.
check_answer()
{
	check_call cmdline_show "$1"
	echo "ok: cmdline_show answers '$1'"
}

check_original()
{
	check_answer "$ORIGINAL"
}

# no_runtime - libuklp.so never got into the target.
no_runtime()
{
	! has_runtime "$TARGET_PID" || die "the runtime was injected into the target"
	echo "ok: no runtime in the target"
}

# count_listed - LISTED = the number of patches "uklp list PID" shows.
count_listed()
{
	run_uklp list "$TARGET_PID"
	((UK_RC == 0)) || die "uklp list $TARGET_PID failed ($UK_RC): $UK_ERR"
	LISTED=$(grep -c '^[^[:space:]]' <<<"$UK_OUT")
}

# Several targets at once (the --all scenarios). Each is build/tests/target
# (or another program speaking its protocol) started in the background with
# its standard input and output on FIFOs; TPIDS, TINS and TOUTS hold its
# PID and our ends of them. use_target I points cmd, check_call... at the
# I-th. Every one is killed on exit (track_pid).
TPIDS=()
TINS=()
TOUTS=()

# start_fifo_target [EXE] - start one more target, check that it answers
# and make it the current one (use_target); its index is ${#TPIDS[@]} - 1.
# shellcheck disable=SC2120 # EXE is optional
start_fifo_target()
{
	local exe=${1:-$T/target} i=${#TPIDS[@]} fd

	[[ -x $exe ]] || die "$exe is not built"
	mkfifo "$WORK/t$i.in" "$WORK/t$i.out" || die "mkfifo failed"
	"$exe" <"$WORK/t$i.in" >"$WORK/t$i.out" 2>"$WORK/t$i.stderr" &
	TPIDS[i]=$!
	track_pid "${TPIDS[i]}"
	# The same order as the target opens them: no deadlock.
	exec {fd}>"$WORK/t$i.in"
	TINS[i]=$fd
	exec {fd}<"$WORK/t$i.out"
	TOUTS[i]=$fd
	use_target "$i"
	cmd "call cmdline_show" >/dev/null ||
		die "target $i does not answer: $CMD_MSG"
}

# use_target I - the I-th target of start_fifo_target is the current one.
use_target()
{
	TARGET_PID=${TPIDS[$1]}
	TARGET_IN=${TINS[$1]}
	TARGET_OUT=${TOUTS[$1]}
}

# The sources of the --all scenarios' library and patch (tests/tool/load-all),
# built at run time under names of their own.
LOAD_ALL_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../load-all" && pwd)
LOAD_ALL_INC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../include" && pwd)

# unique_tag - a tag no other process on this machine has in a file name:
# other sessions' scenarios may run at the same time, and --all would
# otherwise patch their targets too.
unique_tag()
{
	printf '%s_%s' "$$" "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
}

# build_all_lib OUT SONAME [CFLAGS...] - the scenarios' library.
build_all_lib()
{
	local dest=$1 soname=$2

	shift 2
	"${CC:-cc}" -O2 -fPIC -shared -fpatchable-function-entry=16,14 \
		-Wl,-soname,"$soname" "$@" "$LOAD_ALL_SRC/lib.c" -o "$dest" \
		>"$WORK/cc.log" 2>&1 ||
		die "cannot build $dest: $(cat "$WORK/cc.log")"
}

# build_all_patch OUT CFLAGS... - the scenarios' patch (see patch.c).
build_all_patch()
{
	local dest=$1

	shift
	"${CC:-cc}" -O2 -fPIC -shared -I"$LOAD_ALL_INC" "$@" \
		"$LOAD_ALL_SRC/patch.c" -o "$dest" >"$WORK/cc.log" 2>&1 ||
		die "cannot build $dest: $(cat "$WORK/cc.log")"
}
