#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of a patch with an incompatible state version: test_klp_state2
# installs the state console_loglevel version 2; tool_state_old (cumulative,
# knows it only in version 1, also replaces cmdline_show()) is refused:
# - exit status 1; the message names the refusal and the runtime's reason
#   ("is not compatible with the already installed livepatches"); nothing
#   was changed
# - mappings and code unchanged; only test_klp_state2 listed; the state
#   (console_loglevel 15) and cmdline_show() as before

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$TP/tool_state_old.so

start_plain_target
run_uklp load "$TARGET_PID" "$P/test_klp_state2.so"
expect_exit 0
check_call console_loglevel_show "console_loglevel: 15"

snap before
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 1 "load of patch 'tool_state_old' refused" \
	"Livepatch patch (tool_state_old) is not compatible with the already installed livepatches."
expect_not_changed
snap after
same_snap before after
count_listed
((LISTED == 1)) || die "uklp list shows $LISTED patches, expected 1"
grep -qx test_klp_state2 <<<"$UK_OUT" || die "test_klp_state2 is not listed"
check_call console_loglevel_show "console_loglevel: 15"
check_original

pass
