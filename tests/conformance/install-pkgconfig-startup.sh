#!/bin/bash
# SPDX-License-Identifier: MIT
# make install + pkg-config + UKLP_LOAD:
# - "make install DESTDIR=..." installs the header, the library and uklp.pc
# - a patch author builds a patch with
#   cc -shared -fPIC $(pkg-config --cflags --libs uklp) fix.c -o fix.so
# - LD_PRELOAD=libuklp.so UKLP_LOAD=fix.so starts the target already patched
#   (enabled before main: the first call answers the patched result)

. "$(dirname "$0")/../lib/common.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v pkg-config >/dev/null || skip "pkg-config is not installed"
DEST=$WORK/destdir
make -s -C "$ROOT" B="$B" install PREFIX=/usr/local DESTDIR="$DEST" >/dev/null ||
	die "make install failed"
for f in include/uklp/livepatch.h include/uklp/control.h lib/libuklp.so \
	lib/pkgconfig/uklp.pc; do
	[[ -f $DEST/usr/local/$f ]] || die "make install did not install $f"
done

cat >"$WORK/fix.c" <<'C'
#include <uklp/livepatch.h>

static const char *fixed_cmdline(void)
{
	return "fix: built with pkg-config";
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_show", .new_func = fixed_cmdline }, {}
};
static struct klp_object objs[] = { { .name = NULL, .funcs = funcs }, {} };
static struct klp_patch patch = { .objs = objs };
KLP_PATCH(patch);
C
export PKG_CONFIG_PATH=$DEST/usr/local/lib/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$DEST
# shellcheck disable=SC2046
cc -shared -fPIC $(pkg-config --cflags --libs uklp) "$WORK/fix.c" \
	-o "$WORK/fix.so" || die "building a patch with pkg-config failed"

export UKLP_LOAD=$WORK/fix.so
start_target
start_test "patch loaded at start with UKLP_LOAD"
check_call cmdline_show "fix: built with pkg-config"
expect_ok log
grep -qxF "livepatch: 'fix': patching complete" <<<"$CMD_OUT" || { echo "$CMD_OUT"; false; } ||
	die "the log does not say that 'fix' was applied"
check_list_value "fix/enabled" 1
pass
