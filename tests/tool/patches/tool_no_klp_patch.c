// SPDX-License-Identifier: MIT
/*
 * tool_no_klp_patch.c - a well-formed shared object with patch-like
 * structures but no KLP_PATCH(): it exports no uklp_patch_desc, so uklp
 * must say it is not a patch (exit 4) without touching the target.
 */
#include <uklp/livepatch.h>

const char *tool_no_klp_patch_cmdline_show(void);

const char *tool_no_klp_patch_cmdline_show(void)
{
	return "tool_no_klp_patch: must never run";
}

static struct klp_func funcs[] = {
    {.old_name = "cmdline_show", .new_func = tool_no_klp_patch_cmdline_show},
    {}};

static struct klp_object objs[] = {{.name = NULL, .funcs = funcs}, {}};

/* Deliberately no KLP_PATCH(patch). */
struct klp_patch tool_no_klp_patch_patch = {.objs = objs};
