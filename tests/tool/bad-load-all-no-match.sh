#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load --all of a patch no process has the objects of:
# - a patch of the main program pinned to build-id 000...
#   (tool_build_id.so): exit 3, "no process has the program with build-id
#   000... loaded; nothing was done", summary "0 patched, 0 failed,
#   0 skipped"
# - a patch of a library no process has (libuklp_none_<unique>.so, built
#   for this run): exit 3, "no process has libuklp_none_<unique>.so loaded"
# - a running target (whose program and cmdline_show() the first patch is
#   about) is unchanged: same mappings and code, no runtime, original
#   answer

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

ZERO=0000000000000000000000000000000000000000
LIB=libuklp_none_$(unique_tag).so

build_all_patch "$WORK/load_all_none.so" -DALL_LIB="\"$LIB\""
start_plain_target
snap before

run_uklp load --all "$TP/tool_build_id.so"
expect_exit 3 "no process has the program with build-id $ZERO loaded; nothing was done"
grep -qx '0 patched, 0 failed, 0 skipped' <<<"$UK_OUT" ||
	die "the summary is not '0 patched, 0 failed, 0 skipped'"
! grep -q "^$TARGET_PID " <<<"$UK_OUT" || die "the target is reported"

run_uklp load --all "$WORK/load_all_none.so"
expect_exit 3 "no process has $LIB loaded; nothing was done"
grep -qx '0 patched, 0 failed, 0 skipped' <<<"$UK_OUT" ||
	die "the summary is not '0 patched, 0 failed, 0 skipped'"

snap after
same_snap before after
no_runtime
check_original

pass
