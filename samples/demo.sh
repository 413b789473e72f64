#!/bin/sh
# demo.sh BUILD_DIR - a running program gets live patched and unpatched.
#
# Until the uklp tool exists (it will attach to any running process), the
# demo drives the runtime from inside the program: the test target runs
# with libuklp.so preloaded and takes commands on its standard input.
set -eu
B=${1:-build}
T="$B/tests/target"
P="$(cd "$B/tests/patches" && pwd)/test_klp_livepatch.so"
[ -x "$T" ] && [ -f "$P" ] || { echo "demo: run make first" >&2; exit 1; }

fifo=$(mktemp -u /tmp/uklp-demo.XXXXXX)
mkfifo "$fifo"
LD_PRELOAD="$B/libuklp.so" "$T" <"$fifo" &
pid=$!
exec 3>"$fifo"
trap 'exec 3>&-; kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$fifo"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
send() { printf '$ %s\n' "$1"; printf '%s\n' "$1" >&3; sleep 0.3; }

say "a program (pid $pid) answers requests with its cmdline"
send "call cmdline_show"
say "live patch it: load $(basename "$P") while it runs"
send "load $P"
send "call cmdline_show"
say "what is patched (the kernel's /sys/kernel/livepatch tree)"
send "list"
say "disable the patch: the original is back, no restart"
send "disable test_klp_livepatch"
send "call cmdline_show"
say "the runtime's log (the kernel's livepatch messages)"
send "log"
send "quit"
wait $pid
