#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp commands against a PID that does not exist (a process that has
# exited and been reaped):
# - load, check, inject, disable, wait and list exit 3 and say "no process
#   PID"
# - a bystander target (not injected) is untouched: same mappings and
#   code, no runtime, same answer

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

start_plain_target

# A PID that existed a moment ago and does not any more.
sleep 0 &
gone=$!
wait "$gone"
kill -0 "$gone" 2>/dev/null && skip "PID $gone was reused at once"

snap before
for args in "load $gone $P/test_klp_livepatch.so" \
	"check $gone $P/test_klp_livepatch.so" "inject $gone" \
	"disable $gone test_klp_livepatch" "wait $gone" "list $gone"; do
	# shellcheck disable=SC2086
	run_uklp $args
	if kill -0 "$gone" 2>/dev/null; then
		skip "PID $gone was reused during the test"
	fi
	expect_exit 3 "no process $gone"
done
snap after
same_snap before after
no_runtime
check_original

pass
