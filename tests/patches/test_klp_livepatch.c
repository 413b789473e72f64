// SPDX-License-Identifier: MIT
/*
 * test_klp_livepatch.c - port of the kernel's test_klp_livepatch: replaces
 * the target's cmdline_show() (the kernel's cmdline_proc_show).
 */
#include "test_klp.h"

static const char *livepatch_cmdline_show(void)
{
	return KBUILD_MODNAME ": this has been live patched";
}

static struct klp_func funcs[] = {{
				      .old_name = "cmdline_show",
				      .new_func = livepatch_cmdline_show,
				  },
				  {}};

static struct klp_object objs[] = {{
				       /* name being NULL means vmlinux */
				       .funcs = funcs,
				   },
				   {}};

static struct klp_patch patch = {
    .objs = objs,
};

KLP_PATCH(patch);
