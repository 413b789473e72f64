#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load --all where the load fails in one matching process:
# - the patch replaces all_show() and all_extra() of libuklp_all_<unique>.so
#   (built for this run); two targets dlopen that file, a third dlopens
#   another file (other_<unique>.so) with that DT_SONAME but without
#   all_extra(): it matches by soname, and its load is refused
# - exit 1 (the failed load's code); "PID target: patched" for the two,
#   "PID target: failed: load of patch 'load_all_fix' refused by process
#   PID: ..." for the third (after the others: it started last, and
#   processes go in PID order); summary "2 patched, 1 failed, 0 skipped"
# - the two answer the patched texts; the third answers the original and
#   lists no patch

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

NAME=load_all_fix
TAG=$(unique_tag)
LIB=libuklp_all_$TAG.so
OTHER=other_$TAG.so

build_all_lib "$WORK/$LIB" "$LIB"
build_all_lib "$WORK/$OTHER" "$LIB" -DNO_EXTRA
build_all_patch "$WORK/$NAME.so" -DALL_LIB="\"$LIB\"" -DWITH_EXTRA

for i in 0 1 2; do
	start_fifo_target
	if ((i < 2)); then
		expect_ok "dlopen $WORK/$LIB"
	else
		expect_ok "dlopen $WORK/$OTHER"
	fi
	check_call all_show "all: original"
done
echo "targets: ${TPIDS[*]} (the last one with $OTHER)"

run_uklp load --all "$WORK/$NAME.so"
expect_exit 1 "load of patch '$NAME' refused by process ${TPIDS[2]}"
for i in 0 1; do
	grep -qx "${TPIDS[i]} target: patched" <<<"$UK_OUT" ||
		die "no line '${TPIDS[i]} target: patched'"
done
grep -q "^${TPIDS[2]} target: failed: load of patch '$NAME' refused by process ${TPIDS[2]}: " <<<"$UK_OUT" ||
	die "no 'failed' line for ${TPIDS[2]}"
grep -qx '2 patched, 1 failed, 0 skipped' <<<"$UK_OUT" ||
	die "the summary is not '2 patched, 1 failed, 0 skipped'"

for i in 0 1; do
	use_target "$i"
	check_call all_show "$NAME: this has been live patched"
	check_call all_extra "$NAME: extra patched"
done
use_target 2
check_call all_show "all: original"
count_listed
((LISTED == 0)) || die "uklp list shows $LISTED patches in ${TPIDS[2]}, expected none"

pass
