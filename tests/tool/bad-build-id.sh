#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of a patch pinned to another build-id of the target
# (klp_object.build_id all zeros, tests/tool/patches/tool_build_id.c):
# - exit status 1; the message names the refusal and the runtime's reason
#   ("has build-id <the target's>, the patch was made for 000..."); nothing
#   was changed
# - mappings and code unchanged; nothing listed; cmdline_show() answers as
#   before

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$TP/tool_build_id.so
ZERO=0000000000000000000000000000000000000000

start_plain_target
inject
snap before
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 1 "load of patch 'tool_build_id' refused" \
	"the patch was made for $ZERO"
expect_not_changed
# The target's real build-id is named when it has one.
bid=$(readelf -n "$T/target" 2>/dev/null | sed -n 's/.*Build ID: *//p')
if [[ -n $bid ]]; then
	expect_exit 1 "has build-id $bid"
fi
snap after
same_snap before after
count_listed
((LISTED == 0)) || die "uklp list shows $LISTED patches, expected none"
check_original

pass
