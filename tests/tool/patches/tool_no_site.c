// SPDX-License-Identifier: MIT
/*
 * tool_no_site.c - a patch of a function that exists but has no usable
 * site: getpid() of the C library, which is not built with patchable
 * entries. The runtime refuses it ("function 'getpid' cannot be
 * patched"). It also replaces cmdline_show(), first, so that a runtime
 * that would patch function by function before checking them all would be
 * caught changing the target.
 */
#include <sys/types.h>

#include <uklp/livepatch.h>

static const char *tool_no_site_cmdline_show(void)
{
	return "tool_no_site: must never run";
}

static pid_t tool_no_site_getpid(void)
{
	return 1;
}

static struct klp_func exe_funcs[] = {
    {.old_name = "cmdline_show", .new_func = tool_no_site_cmdline_show}, {}};

static struct klp_func libc_funcs[] = {
    {.old_name = "getpid", .new_func = tool_no_site_getpid}, {}};

static struct klp_object objs[] = {{.name = NULL, .funcs = exe_funcs},
				   {.name = "libc.so.6", .funcs = libc_funcs},
				   {}};

static struct klp_patch patch = {.objs = objs};

KLP_PATCH(patch);
