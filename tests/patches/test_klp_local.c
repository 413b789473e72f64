// SPDX-License-Identifier: MIT
/*
 * test_klp_local.c - replaces the second of the target's two static
 * local_helper() functions (target_dup.c's) by its symbol position, as a
 * kernel livepatch names duplicate local symbols with old_sympos.
 *
 * Build variants: patches/ambiguous/test_klp_local.so (-DSYMPOS=0: the name
 * alone is ambiguous) and patches/sympos3/test_klp_local.so (-DSYMPOS=3:
 * there is no third one); both must be refused.
 */
#include "test_klp.h"

#ifndef SYMPOS
#define SYMPOS 2
#endif

static const char *livepatch_local_helper(void)
{
	return "local_helper 2 patched";
}

static struct klp_func funcs[] = {{
				      .old_name = "local_helper",
				      .new_func = livepatch_local_helper,
				      .old_sympos = SYMPOS,
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
