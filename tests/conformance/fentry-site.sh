#!/bin/bash
# SPDX-License-Identifier: MIT
# "basic function patching" on build/tests/target-fentry, whose functions
# start with a call to __fentry__ (-pg -mfentry): the site is that call.
TARGET_VARIANT=fentry exec bash "$(dirname "$0")/livepatch-basic.sh" "$@"
