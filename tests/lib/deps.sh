#!/bin/sh
# deps.sh WHAT - make sure the Debian packages uklp needs are installed.
# WHAT: build (compile), check (run tests), bench (benchmarks), redis
# (only Debian's redis-server and redis-tools: the optional real-program
# test tests/tool/redis-ping.sh and bench/redis/run.sh, which skip when this
# fails).
# As root, missing packages are installed with apt-get; otherwise the
# missing ones are named and the script fails.
set -eu
what=${1:-build}
pkgs="gcc make libc6-dev libelf-dev libunwind-dev libcapstone-dev pkg-config"
case "$what" in
check) pkgs="$pkgs procps" ;;
bench) pkgs="$pkgs valgrind procps" ;;
redis) pkgs="redis-server redis-tools" ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "uklp: installing missing packages:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get update -qq >/dev/null 2>&1; then
		echo "uklp: apt-get update failed (no network or no package lists?)" >&2
	fi
	# shellcheck disable=SC2086
	if ! out=$(apt-get install -y -qq $missing 2>&1 >/dev/null); then
		echo "uklp: apt-get install$missing failed: $(printf '%s\n' "$out" | grep -v '^W:' | tail -n 1)" >&2
		exit 1
	fi
else
	echo "uklp: missing Debian packages:$missing" >&2
	echo "uklp: install them with: sudo apt-get install$missing" >&2
	exit 1
fi
