// SPDX-License-Identifier: MIT
/*
 * test_klp_mod_patch.c - port of the kernel's test_klp_mod_patch: replaces
 * mod_show() of the library libtest_klp_callbacks_mod.so (the kernel test's
 * module test_klp_mod_target), loaded before or after the patch.
 */
#include "test_klp.h"

static const char *livepatch_mod_show(void)
{
	return KBUILD_MODNAME ": this has been live patched";
}

static struct klp_func funcs[] = {{
				      .old_name = "mod_show",
				      .new_func = livepatch_mod_show,
				  },
				  {}};

static struct klp_object objs[] = {{
				       .name = "libtest_klp_callbacks_mod.so",
				       .funcs = funcs,
				   },
				   {}};

static struct klp_patch patch = {
    .objs = objs,
};

KLP_PATCH(patch);
