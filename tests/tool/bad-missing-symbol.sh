#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of a patch of a function the target does not have
# (old_name "no_such_function"):
# - exit status 1; the message names the refusal, the runtime's reason
#   ("symbol 'no_such_function' not found") and says nothing was changed
# - mappings and code of the target as before the load (the runtime was
#   injected first: its own mappings are in both snapshots); no patch
#   listed; the target answers as before

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$TP/tool_missing_symbol.so

start_plain_target
inject
snap before
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 1 "load of patch 'tool_missing_symbol' refused" \
	"symbol 'no_such_function' not found"
expect_not_changed
snap after
same_snap before after
count_listed
((LISTED == 0)) || die "uklp list shows $LISTED patches, expected none"
check_original

pass
