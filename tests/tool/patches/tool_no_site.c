// SPDX-License-Identifier: MIT
/*
 * tool_no_site.c - a patch of a function that exists but has no usable
 * site: the test target's target_tiny(), written in assembly (no compiler
 * record) and 3 bytes long, too short for a prologue site. The runtime
 * refuses it ("function 'target_tiny' cannot be patched: ... too short").
 * It also replaces cmdline_show(), first, so that a runtime
 * that would patch function by function before checking them all would be
 * caught changing the target.
 */
#include <uklp/livepatch.h>

static const char *tool_no_site_cmdline_show(void)
{
	return "tool_no_site: must never run";
}

static int tool_no_site_tiny(void)
{
	return 1;
}

static struct klp_func exe_funcs[] = {
    {.old_name = "cmdline_show", .new_func = tool_no_site_cmdline_show},
    {.old_name = "target_tiny", .new_func = tool_no_site_tiny},
    {}};

static struct klp_object objs[] = {{.name = NULL, .funcs = exe_funcs}, {}};

static struct klp_patch patch = {.objs = objs};

KLP_PATCH(patch);
