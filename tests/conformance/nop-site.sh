#!/bin/bash
# SPDX-License-Identifier: MIT
# "basic function patching" on build/tests/target-nop, whose functions
# start with 5 bytes of nops (-fpatchable-function-entry=5,0): the site is
# armed through the int3 protocol instead of the pad.
TARGET_VARIANT=nop exec bash "$(dirname "$0")/livepatch-basic.sh" "$@"
