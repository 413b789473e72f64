// SPDX-License-Identifier: MIT
/*
 * tool_state_old.c - a cumulative patch that knows the system state
 * "console_loglevel" (id 1, as tests/patches/test_klp_state*.c) only in
 * version 1. Once test_klp_state2 (version 2) is installed, the runtime
 * refuses it (the kernel's klp_is_patch_compatible(): "Livepatch patch
 * (tool_state_old) is not compatible with the already installed
 * livepatches."). It also replaces cmdline_show(), which must not change.
 */
#include <uklp/livepatch.h>

#define CONSOLE_LOGLEVEL_STATE	       1
#define CONSOLE_LOGLEVEL_STATE_VERSION 1

static const char *tool_state_old_cmdline_show(void)
{
	return "tool_state_old: must never run";
}

static struct klp_func funcs[] = {
    {.old_name = "cmdline_show", .new_func = tool_state_old_cmdline_show}, {}};

static struct klp_object objs[] = {{.name = NULL, .funcs = funcs}, {}};

static struct klp_state states[] = {
    {.id = CONSOLE_LOGLEVEL_STATE, .version = CONSOLE_LOGLEVEL_STATE_VERSION},
    {}};

static struct klp_patch patch = {
    .objs = objs,
    .states = states,
    .replace = true,
};

KLP_PATCH(patch);
