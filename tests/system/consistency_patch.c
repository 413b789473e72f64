// SPDX-License-Identifier: MIT
/*
 * consistency_patch.c - replaces both functions of tests/system/chain.c.
 *
 * The new chain_f() calls g through the target's chain_g, whose address the
 * runtime stores in orig_g (a klp_sym), not the new g directly: the call
 * goes through chain_g()'s patched entry, which picks the version of g for
 * the calling thread's patch state. With the consistency model, that is the
 * version of the f that called it, so a thread only ever sees 0x101 (old f,
 * old g) or 0x202 (new f, new g).
 *
 * Built as $(B)/tests/system/consistency_patch.so (patch name
 * "consistency_patch"); its klp symbols stay undefined and bind to the
 * runtime the test program is linked with.
 */
#include <uklp/livepatch.h>

static int (*orig_g)(void);

static int livepatch_chain_g(void)
{
	return 2;
}

static int livepatch_chain_f(void)
{
	return (2 << 8) | orig_g();
}

/*
 * The descriptor tables in the kernel's layout (as tests/patches/), which
 * clang-format would fold.
 */
/* clang-format off */
static struct klp_func funcs[] = {
	{
		.old_name = "chain_f",
		.new_func = livepatch_chain_f,
	},
	{
		.old_name = "chain_g",
		.new_func = livepatch_chain_g,
	},
	{}
};

static struct klp_sym syms[] = {
	KLP_SYM("chain_g", 0, &orig_g),
	{}
};

static struct klp_object objs[] = {
	{
		/* name being NULL means the main executable */
		.funcs = funcs,
		.syms = syms,
	},
	{}
};

static struct klp_patch patch = {
	.objs = objs,
};
/* clang-format on */

KLP_PATCH(patch);
