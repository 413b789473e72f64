// SPDX-License-Identifier: MIT
/*
 * tool_missing_symbol.c - a patch of a function the target does not have
 * (old_name "no_such_function"): the runtime refuses it with the kernel's
 * "symbol 'no_such_function' not found in symbol table".
 */
#include <uklp/livepatch.h>

static const char *tool_missing_symbol_new(void)
{
	return "tool_missing_symbol: must never run";
}

static struct klp_func funcs[] = {
    {.old_name = "no_such_function", .new_func = tool_missing_symbol_new}, {}};

static struct klp_object objs[] = {{.name = NULL, .funcs = funcs}, {}};

static struct klp_patch patch = {.objs = objs};

KLP_PATCH(patch);
