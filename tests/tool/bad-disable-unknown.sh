#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp disable of a patch the target does not have:
# - target without the runtime: exit 1, "has no uklp runtime", the target
#   was not changed, and the runtime was not injected for that
# - target with the runtime and test_klp_livepatch loaded: disabling
#   "no_such_patch" exits 1, says "no patch named 'no_such_patch' is
#   loaded" and that the target was not changed; mappings and code
#   unchanged; test_klp_livepatch still listed and in effect

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

start_plain_target
snap before
run_uklp disable "$TARGET_PID" no_such_patch
expect_exit 1 "process $TARGET_PID has no uklp runtime"
expect_not_changed
snap after
same_snap before after
no_runtime
check_original

run_uklp load "$TARGET_PID" "$P/test_klp_livepatch.so"
expect_exit 0
check_answer "$PATCHED"
snap loaded
run_uklp disable "$TARGET_PID" no_such_patch
expect_exit 1 "disable of patch 'no_such_patch' refused" \
	"no patch named 'no_such_patch' is loaded"
expect_not_changed
snap after-loaded
same_snap loaded after-loaded
count_listed
((LISTED == 1)) || die "uklp list shows $LISTED patches, expected 1"
check_answer "$PATCHED"

pass
