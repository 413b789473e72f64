#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of a file that is not an ELF (a text file named .so):
# - exit status 4, the message says it is not a patch (not an ELF) and
#   that the target was not changed
# - the target did not even get the runtime: its mappings and code are
#   byte for byte as before, and it answers as before

# shellcheck source-path=SCRIPTDIR source=lib/tool.sh
. "$(dirname "$0")/lib/tool.sh"

start_plain_target
echo "this is not an ELF file" >"$WORK/not_elf.so"

snap before
run_uklp load "$TARGET_PID" "$WORK/not_elf.so"
expect_exit 4 "is not a patch" "not an x86-64 ELF file"
expect_not_changed
snap after
same_snap before after
no_runtime
check_original

# The dry run says the same, and does not inject either.
run_uklp check "$TARGET_PID" "$WORK/not_elf.so"
expect_exit 4 "is not a patch" "not an x86-64 ELF file"
expect_not_changed
snap after-check
same_snap before after-check
no_runtime
check_original

pass
