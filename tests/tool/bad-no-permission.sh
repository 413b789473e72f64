#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp run by a user without permission over the target (user nobody,
# no groups, no capabilities, against a target of root):
# - load, check, inject, list, disable and wait exit 3 and say "not
#   permitted to trace process PID"
# - the target did not get the runtime: same mappings and code, same
#   answer
# - with the runtime injected (by root): load, list, disable and log as
#   nobody exit 3 too; mappings and code unchanged, nothing loaded
# Skipped (77) when not root, or when neither setpriv nor su can run a
# command as nobody.

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$P/test_klp_livepatch.so

((EUID == 0)) || skip "needs root: the target must belong to another user than the tool"
id nobody >/dev/null 2>&1 || skip "no user nobody"
nobody_group=$(id -gn nobody)

if setpriv --reuid=nobody --regid="$nobody_group" --clear-groups \
	--inh-caps=-all true 2>/dev/null; then
	as_nobody=(setpriv --reuid=nobody --regid="$nobody_group" \
		--clear-groups --inh-caps=-all)
elif su -s /bin/sh nobody -c true 2>/dev/null; then
	# util-linux su passes the arguments after the user to the shell.
	# shellcheck disable=SC2016
	as_nobody=(su -s /bin/sh nobody -c 'exec "$0" "$@"')
else
	skip "cannot run a command as nobody (setpriv and su failed)"
fi
[[ $("${as_nobody[@]}" id -u) == "$(id -u nobody)" ]] ||
	skip "cannot run a command as nobody (${as_nobody[0]} does not switch)"
"${as_nobody[@]}" test -x "$UKLP" || skip "$UKLP is not executable by nobody"
"${as_nobody[@]}" test -r "$PATCH" || skip "$PATCH is not readable by nobody"

start_plain_target
[[ $(stat -c %u "/proc/$TARGET_PID") == 0 ]] || die "the target does not belong to root"

snap before
UKLP_WRAP=("${as_nobody[@]}")
for args in "load $TARGET_PID $PATCH" "check $TARGET_PID $PATCH" \
	"inject $TARGET_PID" "list $TARGET_PID" \
	"disable $TARGET_PID test_klp_livepatch" "wait $TARGET_PID"; do
	# shellcheck disable=SC2086
	run_uklp $args
	expect_exit 3 "not permitted to trace process $TARGET_PID"
done
UKLP_WRAP=()
snap after
same_snap before after
no_runtime
check_original

# The same with the runtime already in the target (injected by root):
# nothing of it is reachable by nobody either.
inject
snap injected
UKLP_WRAP=("${as_nobody[@]}")
for args in "load $TARGET_PID $PATCH" "list $TARGET_PID" \
	"disable $TARGET_PID test_klp_livepatch" "log $TARGET_PID"; do
	# shellcheck disable=SC2086
	run_uklp $args
	expect_exit 3 "not permitted to trace process $TARGET_PID"
done
UKLP_WRAP=()
snap after-injected
same_snap injected after-injected
count_listed
((LISTED == 0)) || die "uklp list shows $LISTED patches, expected none"
check_original

pass
