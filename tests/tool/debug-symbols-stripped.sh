#!/bin/bash
# SPDX-License-Identifier: MIT
# A stripped target, as distributions ship programs: no .symtab, its static
# functions only in its separate debug file (build/tests/tool/target-
# stripped, tests/tool/tool.mk), which is put in a build-id tree
# ROOT/.build-id/xx/rest.debug. The patch test_klp_local replaces the
# static local_helper() of target_dup.c (old_sympos 2).
# - UKLP_DEBUG_DIR naming an empty tree (in the target's environment and
#   the tool's): uklp load is refused, exit status 1, "symbol
#   'local_helper' not found" and why (only .dynsym, no debug file found,
#   set UKLP_DEBUG_DIR); mappings and code unchanged; nothing listed; the
#   function answers as before
# - UKLP_DEBUG_DIR=ROOT: uklp check names the debug file ("symbols:
#   vmlinux: ROOT/.build-id/xx/rest.debug (build-id)"); uklp load enables
#   the patch; local_helper_2 answers the patched text, local_helper_1
#   (the other static local_helper) does not change

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

EXE=$B/tests/tool/target-stripped
DEBUG=$B/tests/tool/dbg/target-stripped.debug
PATCH=$P/test_klp_local.so
NAME=test_klp_local

[[ -x $EXE && -f $DEBUG ]] || die "$EXE or $DEBUG is not built"
command -v readelf >/dev/null || skip "no readelf (binutils)"
if readelf -SW "$EXE" | grep -qE '[[:space:]]\.symtab[[:space:]]'; then
	die "$EXE has a .symtab: it is not stripped"
fi
bid=$(readelf -n "$EXE" | sed -n 's/.*Build ID: *//p')
[[ -n $bid ]] || skip "the target has no build-id (the linker was not given --build-id)"

ROOT=$WORK/debug
DEBUG_FILE=$ROOT/.build-id/${bid:0:2}/${bid:2}.debug
mkdir -p "$(dirname "$DEBUG_FILE")" "$WORK/no-debug" || die "mkdir"
cp "$DEBUG" "$DEBUG_FILE" || die "cannot copy the debug file"

echo "--- without the debug file"
export UKLP_DEBUG_DIR=$WORK/no-debug
start_plain_target "$EXE"
check_call local_helper_2 "local_helper 2"
inject
snap before
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 1 "load of patch '$NAME' refused" \
	"symbol 'local_helper' not found" \
	"object 'vmlinux': .dynsym of $EXE (no .symtab; no debug file found)" \
	"no debug file found" "UKLP_DEBUG_DIR"
expect_not_changed
snap after
same_snap before after
count_listed
((LISTED == 0)) || die "uklp list shows $LISTED patches, expected none"
check_call local_helper_2 "local_helper 2"
check_call local_helper_1 "local_helper 1"
echo "ok: refused, target unchanged"
stop_target

echo "--- with the debug file in $ROOT"
export UKLP_DEBUG_DIR=$ROOT
start_plain_target "$EXE"
run_uklp check "$TARGET_PID" "$PATCH"
expect_exit 0
grep -qxF "symbols: vmlinux: $DEBUG_FILE (build-id)" <<<"$UK_OUT" ||
	die "uklp check does not name the debug file $DEBUG_FILE"
grep -qxF "ok: $PATCH can be applied to $TARGET_PID" <<<"$UK_OUT" ||
	die "uklp check does not say ok"
echo "ok: uklp check names the debug file"
check_call local_helper_2 "local_helper 2"

run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 0
grep -qF "patch '$NAME' enabled in process $TARGET_PID" <<<"$UK_OUT" ||
	die "uklp load does not say the patch is enabled"
check_call local_helper_2 "local_helper 2 patched"
check_call local_helper_1 "local_helper 1"
check_call cmdline_show "$ORIGINAL"
check_list_exists "$NAME/vmlinux/local_helper,2"
echo "ok: the static function of the stripped target is patched"

pass
