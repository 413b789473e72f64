#!/bin/sh
# deps.sh WHAT - make sure the Debian packages uklp needs are installed.
# WHAT: build (compile), check (run tests), bench (benchmarks).
# As root, missing packages are installed with apt-get; otherwise the
# missing ones are named and the script fails.
set -eu
what=${1:-build}
pkgs="gcc make libc6-dev libelf-dev libunwind-dev libcapstone-dev pkg-config"
case "$what" in
check) pkgs="$pkgs procps" ;;
bench) pkgs="$pkgs valgrind procps" ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "uklp: installing missing packages:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
else
	echo "uklp: missing Debian packages:$missing" >&2
	echo "uklp: install them with: sudo apt-get install$missing" >&2
	exit 1
fi
