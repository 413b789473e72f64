#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load --all of a patch of the main program pinned to a build-id:
# - the target's objects are linked again for this run with a build-id
#   of its own (random); two of those run, and one build/tests/target
#   (the same code, another build-id)
# - the patch replaces cmdline_show() of the program with that build-id:
#   load --all exits 0, "PID target-bid: patched" for the two and no line
#   for the third; summary "2 patched, 0 failed, 0 skipped"
# - the two answer the patched text; the third answers the original and
#   got no runtime
# - uklp disable of each brings the original back

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

NAME=load_all_fix
BID=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
EXE=$WORK/target-bid

objs=("$T"/obj/pad/target.o "$T"/obj/pad/target_dup.o)
[[ -f ${objs[0]} && -f ${objs[1]} ]] || die "the target's objects are not built"
"${CC:-cc}" "${objs[@]}" -Wl,--build-id="0x$BID" -ldl -lpthread -o "$EXE" \
	>"$WORK/cc.log" 2>&1 || die "cannot link $EXE: $(cat "$WORK/cc.log")"
got=$(readelf -n "$EXE" | sed -n 's/.*Build ID: *//p')
[[ $got == "$BID" ]] || die "$EXE has build-id '$got', expected $BID"
build_all_patch "$WORK/$NAME.so" -DMAIN_BUILD_ID="\"$BID\""

start_fifo_target "$EXE"
start_fifo_target "$EXE"
start_fifo_target
echo "targets: ${TPIDS[*]} (the last one is build/tests/target)"

run_uklp load --all "$WORK/$NAME.so"
expect_exit 0
for i in 0 1; do
	grep -qx "${TPIDS[i]} target-bid: patched" <<<"$UK_OUT" ||
		die "no line '${TPIDS[i]} target-bid: patched'"
done
! grep -q "^${TPIDS[2]} " <<<"$UK_OUT" ||
	die "${TPIDS[2]} (another build-id) is reported"
grep -qx '2 patched, 0 failed, 0 skipped' <<<"$UK_OUT" ||
	die "the summary is not '2 patched, 0 failed, 0 skipped'"

for i in 0 1; do
	use_target "$i"
	check_answer "$NAME: this has been live patched"
done
! has_runtime "${TPIDS[2]}" ||
	die "the runtime was injected into ${TPIDS[2]} (another build-id)"
use_target 2
check_original

for i in 0 1; do
	run_uklp disable "${TPIDS[i]}" "$NAME"
	expect_exit 0
	use_target "$i"
	check_original
done

pass
