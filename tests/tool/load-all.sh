#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load --all PATCH.so, for a patch of a library (all_show() of
# libuklp_all_<unique>.so, built for this run: no other process on the
# machine has it, so the counts below are the run's own):
# - three targets dlopen the library, a fourth does not
# - load --all exits 0 and prints "PID target: patched" for each of the
#   three, no line for the fourth, and "3 patched, 0 failed, 0 skipped"
# - the three answer the patched text and `uklp list PID` shows the patch
#   enabled; the fourth answers as before and got no runtime (libuklp.so
#   is not in its maps)
# - load --all again exits 0: "PID target: already patched" for the three,
#   "0 patched, 0 failed, 3 skipped (3 already patched)"; nothing changed
# - uklp disable of each brings the original back

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

NAME=load_all_fix
LIB=libuklp_all_$(unique_tag).so
ORIG="all: original"
FIXED="$NAME: this has been live patched"

build_all_lib "$WORK/$LIB" "$LIB"
build_all_patch "$WORK/$NAME.so" -DALL_LIB="\"$LIB\""

for i in 0 1 2 3; do
	start_fifo_target
	if ((i < 3)); then
		expect_ok "dlopen $WORK/$LIB"
		check_call all_show "$ORIG"
	fi
done
echo "targets: ${TPIDS[*]} (the last one without $LIB)"

# check_lines STATE - the line of each of the three says STATE, the
# fourth has none.
check_lines()
{
	local i

	for i in 0 1 2; do
		grep -qx "${TPIDS[i]} target: $1" <<<"$UK_OUT" ||
			die "no line '${TPIDS[i]} target: $1'"
	done
	! grep -q "^${TPIDS[3]} " <<<"$UK_OUT" ||
		die "target ${TPIDS[3]} (without $LIB) is reported"
}

# fourth_untouched - the fourth target has no runtime and answers as before.
fourth_untouched()
{
	! has_runtime "${TPIDS[3]}" ||
		die "the runtime was injected into ${TPIDS[3]}, which has no $LIB"
	use_target 3
	check_original
}

run_uklp load --all "$WORK/$NAME.so"
expect_exit 0
check_lines patched
grep -qx '3 patched, 0 failed, 0 skipped' <<<"$UK_OUT" ||
	die "the summary is not '3 patched, 0 failed, 0 skipped'"
for i in 0 1 2; do
	use_target "$i"
	check_call all_show "$FIXED"
	run_uklp list "${TPIDS[i]}"
	((UK_RC == 0)) || die "uklp list ${TPIDS[i]} failed ($UK_RC)"
	grep -qx "$NAME" <<<"$UK_OUT" || die "$NAME is not listed in ${TPIDS[i]}"
	grep -qE '^[[:space:]]+enabled: 1$' <<<"$UK_OUT" ||
		die "$NAME is not enabled in ${TPIDS[i]}"
	grep -qE '^[[:space:]]+transition: 0$' <<<"$UK_OUT" ||
		die "a transition is still shown in ${TPIDS[i]}"
done
fourth_untouched

run_uklp load --all "$WORK/$NAME.so"
expect_exit 0
check_lines "already patched"
grep -qx '0 patched, 0 failed, 3 skipped (3 already patched)' <<<"$UK_OUT" ||
	die "the summary is not '0 patched, 0 failed, 3 skipped (3 already patched)'"
for i in 0 1 2; do
	use_target "$i"
	check_call all_show "$FIXED"
done
fourth_untouched

for i in 0 1 2; do
	run_uklp disable "${TPIDS[i]}" "$NAME"
	expect_exit 0
	use_target "$i"
	check_call all_show "$ORIG"
done

pass
