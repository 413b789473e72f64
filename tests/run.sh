#!/bin/sh
# run.sh BUILD_DIR [FILTER] - run every test of uklp.
#
# Runs each unit test binary BUILD_DIR/tests/unit/test_* (argv[1]: a fresh
# scratch directory BUILD_DIR/tests/scratch/NAME) and each conformance
# scenario tests/conformance/*.sh (bash, with UKLP_BUILD=BUILD_DIR), each
# under a timeout (UKLP_TEST_TIMEOUT seconds, default 120), then each system
# test BUILD_DIR/tests/system/test_* like a unit test but with
# UKLP_SYSTEM_TIMEOUT seconds (default 600). FILTER, if
# given, keeps the tests whose name contains it.
#
# The conformance scenarios run against the pad-site target in-process
# (conformance/NAME) and through the uklp tool (tool/NAME), then again
# against each of the 6 "plain" targets V (no instrumentation flag: -O0,
# -O2, -O3, PIE and non-PIE; every function a prologue site), both ways:
# plain-V/NAME and plain-V/tool/NAME (about 1.5 minutes more in all).
#
# Prints "PASS name", "FAIL name" and the last 30 lines of its output, or
# "SKIP name: reason" (a test exits 77 to skip and prints the reason last),
# and ends with exactly one line "N passed, N failed, N skipped".
# Exit status 1 if a test failed or none ran.
set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [FILTER]" >&2
	exit 2
fi
filter=${2:-}
timeout_s=${UKLP_TEST_TIMEOUT:-120}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B=$(cd "$1" 2>/dev/null && pwd) || {
	echo "run.sh: no build directory '$1'" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}
scratch=$B/tests/scratch
mkdir -p "$scratch"
export UKLP_BUILD="$B"

passed=0
failed=0
skipped=0

if ! sh tests/lib/deps.sh check; then
	echo "FAIL deps: missing packages (tests/lib/deps.sh check)"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

# run NAME COMMAND... - run one test and report it.
run()
{
	name=$1
	shift
	case $name in
	*"$filter"*) ;;
	*) return 0 ;;
	esac
	log=$scratch/$(echo "$name" | tr / _).log
	timeout -k 5 "$timeout_s" "$@" </dev/null >"$log" 2>&1
	rc=$?
	case $rc in
	0)
		echo "PASS $name"
		passed=$((passed + 1))
		;;
	77)
		reason=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
		echo "SKIP $name: ${reason:-no reason given}"
		skipped=$((skipped + 1))
		;;
	*)
		case $rc in
		124 | 137) echo "FAIL $name (timed out after ${timeout_s}s)" ;;
		*) echo "FAIL $name (exit status $rc)" ;;
		esac
		tail -n 30 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		;;
	esac
}

for t in "$B"/tests/unit/test_*; do
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then
		continue
	fi
	name=${t##*/}
	rm -rf "${scratch:?}/$name"
	mkdir -p "$scratch/$name"
	run "unit/$name" "$t" "$scratch/$name"
done

for s in tests/conformance/*.sh; do
	[ -f "$s" ] || continue
	name=${s##*/}
	run "conformance/${name%.sh}" bash "$s" "$B"
done

# The same scenarios against targets started without the runtime: the uklp
# tool injects it and does every control command from outside.
if [ -x "$B/uklp" ]; then
	for s in tests/conformance/*.sh; do
		[ -f "$s" ] || continue
		name=${s##*/}
		run "tool/${name%.sh}" env UKLP_MODE=tool bash "$s" "$B"
	done
	# The uklp tool's own scenarios: bad input, the tool killed.
	for s in tests/tool/*.sh; do
		[ -f "$s" ] || continue
		name=${s##*/}
		run "uklp/${name%.sh}" bash "$s" "$B"
	done
fi

# The same scenarios again against each "plain" target (tests/tests.mk:
# built with no instrumentation flag at -O0, -O2, -O3, PIE and non-PIE, so
# every function is patched through a prologue site), in-process and
# through the tool: plain-V/NAME and plain-V/tool/NAME. Not run there:
# nop-site and fentry-site, which are about their own site flavour and
# need their instrumented targets (target-nop, target-fentry).
for d in "$B"/tests/plain/*/; do
	v=${d%/}
	v=${v##*/}
	[ -x "$B/tests/plain/$v/target" ] || continue
	for s in tests/conformance/*.sh; do
		[ -f "$s" ] || continue
		# (not "name": run() sets it)
		sc=${s##*/}
		sc=${sc%.sh}
		case $sc in
		nop-site | fentry-site) continue ;;
		esac
		run "plain-$v/$sc" env UKLP_TARGET_VARIANT="$v" bash "$s" "$B"
		[ -x "$B/uklp" ] || continue
		run "plain-$v/tool/$sc" env UKLP_TARGET_VARIANT="$v" \
			UKLP_MODE=tool bash "$s" "$B"
	done
done

# Whole-process system tests (consistency, 10,000 cycles): longer limit.
for t in "$B"/tests/system/test_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=${t##*/}
	mkdir -p "$scratch/$name"
	timeout_s=${UKLP_SYSTEM_TIMEOUT:-600} run "system/$name" "$t" "$scratch/$name"
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ $((passed + skipped)) -gt 0 ]
