// SPDX-License-Identifier: MIT
/*
 * parked_patch.c - replaces parked_fn() of tests/system/
 * test_prologue_parked.c: 2x + 3 becomes 2x + 1000.
 *
 * Built as $(B)/tests/system/parked_patch.so (patch name "parked_patch");
 * its klp symbols stay undefined and bind to the runtime the test program
 * is linked with.
 */
#include <uklp/livepatch.h>

static int livepatch_parked_fn(int x)
{
	return 2 * x + 1000;
}

/* clang-format off */
static struct klp_func funcs[] = {
	{
		.old_name = "parked_fn",
		.new_func = livepatch_parked_fn,
	},
	{}
};

static struct klp_object objs[] = {
	{
		.funcs = funcs,
	},
	{}
};

static struct klp_patch patch = {
	.objs = objs,
};
/* clang-format on */

KLP_PATCH(patch);
