#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of a shared object without KLP_PATCH() (no uklp_patch_desc):
# - exit status 4, the message says it does not export uklp_patch_desc
#   and that the target was not changed
# - the target did not get the runtime; mappings and code unchanged
# - the same file against a target that already has the runtime: still 4,
#   refused from outside (still unchanged)

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$TP/tool_no_klp_patch.so

start_plain_target
snap before
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 4 "is not a patch" "does not export uklp_patch_desc"
expect_not_changed
snap after
same_snap before after
no_runtime
check_original

inject
snap injected
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 4 "is not a patch" "does not export uklp_patch_desc"
expect_not_changed
snap after-injected
same_snap injected after-injected
count_listed
((LISTED == 0)) || die "uklp list shows $LISTED patches, expected none"
check_original

pass
