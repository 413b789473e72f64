#!/bin/sh
# demo.sh BUILD_DIR - a running program gets live patched and unpatched.
#
# samples/cmdline-server, a multi-threaded server, answers every request
# with its "kernel command line", what its cmdline_show() returns (the
# kernel's samples/livepatch patch cmdline_proc_show()). It runs as an
# ordinary process: no LD_PRELOAD, nothing linked. The demo asks it, live
# patches it with `uklp load` (answer: "this has been live patched"), shows
# `uklp list`, disables the patch (the original answer is back) and shows
# `uklp log`; the server is never restarted. Every answer is checked: the
# demo stops with status 1 at the first unexpected one. The server is
# stopped however the demo ends.
set -eu
B=${1:-build}
S=$B/samples
NAME=livepatch-sample
ORIG="BOOT_IMAGE=/vmlinuz-uklp root=/dev/sda1 ro quiet"
PATCHED="this has been live patched"

for f in "$B/uklp" "$S/cmdline-server" "$S/ask" "$S/$NAME.so"; do
	if [ ! -e "$f" ]; then
		echo "demo: $f is missing: run make first" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/uklp-demo.XXXXXX")
sock=$work/cmdline.sock
log=$work/server.log
pid=
out=

cleanup()
{
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ -t 1 ]; then
	bold=$(printf '\033[1m')
	plain=$(printf '\033[0m')
else
	bold=
	plain=
fi

# say TEXT - a header.
say()
{
	printf '\n%s== %s%s\n' "$bold" "$*" "$plain"
}

# fail MESSAGE - stop the demo (the EXIT trap stops the server).
fail()
{
	printf '\ndemo: FAILED: %s\n' "$*" >&2
	if [ -s "$log" ]; then
		echo "demo: the server's output:" >&2
		sed 's/^/  /' "$log" >&2
	fi
	scope=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0)
	if [ "$(id -u)" != 0 ] && [ "$scope" -gt 0 ]; then
		echo "demo: note: kernel.yama.ptrace_scope is $scope: uklp may" \
			"not attach to a process it did not start; run as root" >&2
	fi
	exit 1
}

# run CMD [ARG...] - show "$ CMD ARG...", run it, show its output as it
# comes; the output is left in $out. A non-zero exit status fails the demo.
run()
{
	printf '$ %s\n' "$*"
	{
		rc=0
		"$@" 2>&1 || rc=$?
		echo "$rc" >"$work/rc"
	} | tee "$work/out"
	rc=$(cat "$work/rc")
	out=$(cat "$work/out")
	[ "$rc" = 0 ] || fail "'$*' exited with status $rc"
}

# ask EXPECTED - one request to the server; the answer must be EXPECTED.
ask()
{
	run "$S/ask" "$sock"
	[ "$out" = "$1" ] || fail "the answer is not \"$1\""
}

# expect TEXT - the last command's output must contain TEXT.
expect()
{
	case $out in
	*"$1"*) ;;
	*) fail "no \"$1\" in that output" ;;
	esac
}

say "start the program: a server with 4 worker threads, no LD_PRELOAD"
printf '$ %s %s 4 &\n' "$S/cmdline-server" "$sock"
"$S/cmdline-server" "$sock" 4 >"$log" 2>&1 &
pid=$!
i=0
until grep -q listening "$log"; do
	kill -0 "$pid" 2>/dev/null || fail "the server quit"
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "the server did not start in 10 s"
	sleep 0.1
done
cat "$log"
printf '$ cat /proc/%s/task/*/comm\n' "$pid"
cat "/proc/$pid/task/"*/comm

say "it answers every request with its cmdline"
ask "$ORIG"
ask "$ORIG"
ask "$ORIG"

say "live patch it: cmdline_show() is replaced while it runs"
run "$B/uklp" load "$pid" "$S/$NAME.so"
ask "$PATCHED"
ask "$PATCHED"
kill -0 "$pid" 2>/dev/null || fail "the server is gone"
echo "(the same process, pid $pid: not restarted)"

say "what is patched (the kernel's /sys/kernel/livepatch tree)"
run "$B/uklp" list "$pid"
expect "$NAME"

say "disable the patch: the original is back, still no restart"
run "$B/uklp" disable "$pid" "$NAME"
ask "$ORIG"

say "the runtime's log (the kernel's livepatch messages)"
run "$B/uklp" log "$pid"
expect "enabling patch '$NAME'"
expect "'$NAME': patching complete"
expect "'$NAME': unpatching complete"

say "stop the server"
printf '$ kill %s\n' "$pid"
kill "$pid"
rc=0
wait "$pid" || rc=$?
pid=
sed 1d "$log"
[ "$rc" = 0 ] || fail "the server exited with status $rc"

say "done: patched and unpatched live, one process from start to end"
