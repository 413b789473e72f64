// SPDX-License-Identifier: MIT
/*
 * test_klp_atomic_replace.c - port of the kernel's test_klp_atomic_replace:
 * replaces the target's meminfo_show() (the kernel's meminfo_proc_show).
 *
 * The module parameter replace=1 is the build variant
 * patches/replace/test_klp_atomic_replace.so (-DREPLACE=1).
 */
#include "test_klp.h"

#ifndef REPLACE
#define REPLACE 0
#endif

static const char *livepatch_meminfo_show(void)
{
	return KBUILD_MODNAME ": this has been live patched";
}

static struct klp_func funcs[] = {{
				      .old_name = "meminfo_show",
				      .new_func = livepatch_meminfo_show,
				  },
				  {}};

static struct klp_object objs[] = {{
				       /* name being NULL means vmlinux */
				       .funcs = funcs,
				   },
				   {}};

static struct klp_patch patch = {
    .objs = objs,
    .replace = REPLACE,
};

KLP_PATCH(patch);
