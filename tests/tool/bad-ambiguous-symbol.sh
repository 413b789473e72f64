#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of a patch of an ambiguous symbol: the target has two static
# local_helper() (target.c, target_dup.c) and the patch asks for
# old_sympos 0 (patches/ambiguous/test_klp_local.so, as in sympos-local):
# - exit status 1; the message names the refusal and the runtime's reason
#   ("unresolvable ambiguity for symbol 'local_helper'"); nothing changed
# - mappings and code unchanged; nothing listed; both local_helper()s and
#   cmdline_show() answer as before

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$P/ambiguous/test_klp_local.so

start_plain_target
check_call local_helper_1 "local_helper 1"
check_call local_helper_2 "local_helper 2"
inject
snap before
run_uklp load "$TARGET_PID" "$PATCH"
expect_exit 1 "load of patch 'test_klp_local' refused" \
	"unresolvable ambiguity for symbol 'local_helper'"
expect_not_changed
snap after
same_snap before after
count_listed
((LISTED == 0)) || die "uklp list shows $LISTED patches, expected none"
check_call local_helper_1 "local_helper 1"
check_call local_helper_2 "local_helper 2"
check_original

pass
