#!/bin/bash
# SPDX-License-Identifier: MIT
# uklp load of samples/redis into another build of redis-server: a copy of
# Debian's /usr/bin/redis-server whose GNU build-id note was changed (same
# code, so the patch's redis symbols all resolve and only the pin tells the
# builds apart):
# - exit status 1; the message names the refusal, the server's build-id
#   and the one the patch was made for; nothing was changed
# - code unchanged (the hashes of every executable mapping; not the
#   mappings: the refused patch was dlopened and closed, and redis' jemalloc
#   may map a new arena for the loader's allocations); nothing listed; the
#   server answers PING with PONG and kept its connection
# Skipped, with the reason, when redis-server cannot be installed.

# shellcheck source-path=SCRIPTDIR source=lib/redis.sh
. "$(dirname "$0")/lib/redis.sh"

redis_need
EXE=$WORK/redis-server
cp "$(readlink -f "$(command -v redis-server)")" "$EXE" || die "cannot copy redis-server"
# The note's descriptor follows its 12-byte header and "GNU\0".
note=$(readelf -SW "$EXE" | awk '{ for (i = 1; i < NF; i++) if ($i == ".note.gnu.build-id") print $(i + 3) }')
[[ -n $note ]] || skip "redis-server has no .note.gnu.build-id section"
orig=$(build_id "$EXE")
printf '\336\255\276\357' |
	dd of="$EXE" bs=1 seek=$((0x$note + 16)) conv=notrunc 2>/dev/null ||
	die "cannot rewrite the build-id of $EXE"
bid=$(build_id "$EXE")
[[ $bid == deadbeef* && $bid != "$orig" ]] ||
	die "the copy's build-id is '$bid', expected deadbeef + the rest of '$orig'"
echo "redis-server copy with build-id $bid (was $orig)"

redis_start "$EXE"
conn_open A
expect_conn A 1 PING "+PONG"
run_uklp inject "$REDIS_PID"
((UK_RC == 0)) || die "uklp inject failed ($UK_RC): $UK_ERR"
TARGET_PID=$REDIS_PID snap before
run_uklp load "$REDIS_PID" "$REDIS_PATCH"
expect_exit 1 "load of patch '$REDIS_PATCH_NAME' refused" \
	"has build-id $bid" "the patch was made for $REDIS_BUILD_ID"
expect_not_changed
TARGET_PID=$REDIS_PID snap after
diff -u <(grep '^hash ' "$WORK/before.snap") <(grep '^hash ' "$WORK/after.snap") ||
	die "the server's code changed although the load was refused"
echo "ok: code unchanged ($(grep -c '^hash ' "$WORK/after.snap") executable mappings hashed)"
run_uklp list "$REDIS_PID"
! grep -qx "$REDIS_PATCH_NAME" <<<"$UK_OUT" || die "uklp list shows $REDIS_PATCH_NAME"
expect_cli PONG PING
expect_conn A 1 PING "+PONG"

pass
