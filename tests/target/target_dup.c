// SPDX-License-Identifier: MIT
/*
 * target_dup.c - a second static local_helper() in another translation unit.
 *
 * The target's symbol table then holds two local symbols "local_helper"
 * (target.c's first, as it is linked first): a patch must name this one
 * with old_sympos 2, as the kernel's livepatch does for duplicate static
 * functions of different files.
 */
#include "target.h"

static PATCHABLE const char *local_helper(void)
{
	return "local_helper 2";
}

const char *(*const local_helper_2)(void) = local_helper;
