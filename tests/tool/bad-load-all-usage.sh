#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load --all refuses, touching no process, what it cannot do:
# - --all with a PID: exit 2, "--all and a PID together"
# - --all without a patch: exit 2, "missing operand"
# - --all with a patch of the main program that pins no build-id
#   (test_klp_livepatch.so): exit 2, "--all needs the patch to name its
#   libraries or pin the program's build-id: a patch for 'the main
#   program' would match every process", nothing printed on stdout
# - check does not take --all: exit 2
# - the target (which has the patch's function) is unchanged: same
#   mappings and code, no runtime, original answer

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

PATCH=$P/test_klp_livepatch.so

start_plain_target
snap before

run_uklp load --all "$TARGET_PID" "$PATCH"
expect_exit 2 "--all and a PID together"

run_uklp load --all
expect_exit 2 "missing operand"

run_uklp load --all "$PATCH"
expect_exit 2 "--all needs the patch to name its libraries or pin the program's build-id: a patch for 'the main program' would match every process" \
	"nothing was done"
[[ -z $UK_OUT ]] || die "a refused --all printed results: $UK_OUT"

run_uklp check --all "$PATCH"
expect_exit 2 "option '--all' does not apply here"

snap after
same_snap before after
no_runtime
check_original

pass
