// SPDX-License-Identifier: MIT
/*
 * tool_build_id.c - a patch of the target's cmdline_show() pinned to a
 * build-id the target does not have (all zeros): the runtime refuses it
 * ("object 'vmlinux' has build-id ..., the patch was made for 000...").
 */
#include <uklp/livepatch.h>

static const char *tool_build_id_cmdline_show(void)
{
	return "tool_build_id: must never run";
}

static struct klp_func funcs[] = {
    {.old_name = "cmdline_show", .new_func = tool_build_id_cmdline_show}, {}};

static struct klp_object objs[] = {
    {
	.name = NULL,
	.funcs = funcs,
	.build_id = "0000000000000000000000000000000000000000",
    },
    {}};

static struct klp_patch patch = {.objs = objs};

KLP_PATCH(patch);
