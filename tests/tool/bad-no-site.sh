#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of a patch of a function with no usable site: the target's
# target_tiny(), assembly without a compiler record and too short for a
# prologue site (tests/tool/patches/tool_no_site.c; it also replaces
# cmdline_show(), which is resolvable):
# - exit status 1; the message names the refusal and the runtime's typed
#   reason ("function 'target_tiny' cannot be patched: ... too short");
#   nothing was changed
# - mappings and code unchanged (libc's and the target's alike); nothing
#   listed; cmdline_show() answers as before

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$TP/tool_no_site.so

start_plain_target
inject
snap before
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 1 "load of patch 'tool_no_site' refused" \
	"function 'target_tiny' cannot be patched: no compiler site, and the prologue cannot be relocated: too short"
expect_not_changed
snap after
same_snap before after
count_listed
((LISTED == 0)) || die "uklp list shows $LISTED patches, expected none"
check_original

# The dry run refuses it with the same reason.
run_uklp check "$TARGET_PID" "$PATCH"
expect_exit 1 "check of patch 'tool_no_site' refused" \
	"function 'target_tiny' cannot be patched: no compiler site, and the prologue cannot be relocated: too short"
snap after-check
same_snap before after-check
check_original

pass
