#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of a patch that is loaded already (test_klp_livepatch twice):
# - the first load succeeds; the second exits 1, says the patch is
#   already loaded and that nothing was changed
# - mappings and code as after the first load; the patch listed once,
#   enabled, no transition; cmdline_show() still answers the patched text

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$P/test_klp_livepatch.so

start_plain_target
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 0
check_answer "$PATCHED"

snap before
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 1 "load of patch 'test_klp_livepatch' refused" \
	"patch 'test_klp_livepatch' is already loaded"
expect_not_changed
snap after
same_snap before after
count_listed
((LISTED == 1)) || die "uklp list shows $LISTED patches, expected 1"
grep -qx 'test_klp_livepatch' <<<"$UK_OUT" || die "the patch is not listed"
grep -qE '^[[:space:]]+enabled: 1$' <<<"$UK_OUT" || die "the patch is not enabled"
grep -qE '^[[:space:]]+transition: 0$' <<<"$UK_OUT" || die "a transition is shown"
check_answer "$PATCHED"

# Also by another path to the same file name (the name is what counts).
cp "$PATCH" "$WORK/test_klp_livepatch.so"
run_uklp load "$TARGET_PID" "$WORK/test_klp_livepatch.so"
expect_exit 1 "patch 'test_klp_livepatch' is already loaded"
expect_not_changed
snap after-copy
same_snap before after-copy
check_answer "$PATCHED"

pass
