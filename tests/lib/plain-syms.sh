#!/bin/sh
# plain-syms.sh FILE FUNC... - check, after gcc built FILE at -O2/-O3 with
# no instrumentation, that each FUNC the conformance patches modify is
# there under its own name as a function symbol and has no clone
# (FUNC.isra.N, FUNC.constprop.N, FUNC.part.N: gcc's interprocedural
# copies, which callers would reach instead of FUNC, so patching FUNC would
# change nothing they call). FUNC.cold (a split-off cold block) is allowed:
# the runtime scans it. Exit 1, FILE removed, when a check fails.
set -u
file=$1
shift
syms=$(nm "$file") || exit 1
bad=0
for f in "$@"; do
	if ! printf '%s\n' "$syms" | grep -qE " [tT] $f\$"; then
		echo "$file: no function symbol $f (inlined away?)" >&2
		bad=1
	fi
	clones=$(printf '%s\n' "$syms" | grep -E " [tT] $f\.(isra|constprop|part)\.")
	if [ -n "$clones" ]; then
		echo "$file: gcc cloned $f: $clones" >&2
		bad=1
	fi
done
if [ "$bad" -ne 0 ]; then
	rm -f "$file"
	exit 1
fi
