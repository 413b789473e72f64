// SPDX-License-Identifier: MIT
/*
 * test_klp_state2.c - port of the kernel's test_klp_state2: a cumulative
 * patch with the system state "console_loglevel" version 2, which takes the
 * state over from an installed patch (klp_get_prev_state()) and hands it
 * back when its own transition is reverted.
 */
#include <stdlib.h>

#include "test_klp.h"

#define CONSOLE_LOGLEVEL_STATE 1
/* Version 2 supports migration. */
#define CONSOLE_LOGLEVEL_STATE_VERSION 2
#define CONSOLE_LOGLEVEL_MOTORMOUTH    15

static int *console_loglevel;
static struct klp_patch patch;

static int allocate_loglevel_state(void)
{
	struct klp_state *loglevel_state, *prev_loglevel_state;

	prev_loglevel_state = klp_get_prev_state(CONSOLE_LOGLEVEL_STATE);
	if (prev_loglevel_state) {
		pr_info("%s: space to store console_loglevel already allocated",
			__func__);
		return 0;
	}

	loglevel_state = klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	if (!loglevel_state)
		return -EINVAL;

	loglevel_state->data = calloc(1, sizeof(int));
	if (!loglevel_state->data)
		return -ENOMEM;

	pr_info("%s: allocating space to store console_loglevel", __func__);
	return 0;
}

static void fix_console_loglevel(void)
{
	struct klp_state *loglevel_state, *prev_loglevel_state;

	loglevel_state = klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	if (!loglevel_state)
		return;

	prev_loglevel_state = klp_get_prev_state(CONSOLE_LOGLEVEL_STATE);
	if (prev_loglevel_state) {
		pr_info("%s: taking over the console_loglevel change",
			__func__);
		loglevel_state->data = prev_loglevel_state->data;
		return;
	}

	pr_info("%s: fixing console_loglevel", __func__);
	*(int *)loglevel_state->data = *console_loglevel;
	*console_loglevel = CONSOLE_LOGLEVEL_MOTORMOUTH;
}

static void restore_console_loglevel(void)
{
	struct klp_state *loglevel_state, *prev_loglevel_state;

	prev_loglevel_state = klp_get_prev_state(CONSOLE_LOGLEVEL_STATE);
	if (prev_loglevel_state) {
		pr_info("%s: passing the console_loglevel change back to the "
			"old livepatch",
			__func__);
		return;
	}

	loglevel_state = klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	if (!loglevel_state)
		return;

	pr_info("%s: restoring console_loglevel", __func__);
	*console_loglevel = *(int *)loglevel_state->data;
}

static void free_loglevel_state(void)
{
	struct klp_state *loglevel_state, *prev_loglevel_state;

	prev_loglevel_state = klp_get_prev_state(CONSOLE_LOGLEVEL_STATE);
	if (prev_loglevel_state) {
		pr_info("%s: keeping space to store console_loglevel",
			__func__);
		return;
	}

	loglevel_state = klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE);
	if (!loglevel_state)
		return;

	pr_info("%s: freeing space for the stored console_loglevel", __func__);
	free(loglevel_state->data);
}

/* Executed on object patching (ie, patch enablement) */
static int pre_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
	return allocate_loglevel_state();
}

/* Executed on object patching (ie, patch enablement) */
static void post_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
	fix_console_loglevel();
}

/* Executed on object unpatching (ie, patch disablement) */
static void pre_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
	restore_console_loglevel();
}

/* Executed on object unpatching (ie, patch disablement) */
static void post_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
	free_loglevel_state();
}

static struct klp_func no_funcs[] = {{}};

static struct klp_sym syms[] = {
    KLP_SYM("console_loglevel", 0, &console_loglevel), {}};

static struct klp_object objs[] = {
    {
	.name = NULL, /* vmlinux */
	.funcs = no_funcs,
	.syms = syms,
	.callbacks =
	    {
		.pre_patch = pre_patch_callback,
		.post_patch = post_patch_callback,
		.pre_unpatch = pre_unpatch_callback,
		.post_unpatch = post_unpatch_callback,
	    },
    },
    {}};

static struct klp_state states[] = {
    {
	.id = CONSOLE_LOGLEVEL_STATE,
	.version = CONSOLE_LOGLEVEL_STATE_VERSION,
    },
    {}};

static struct klp_patch patch = {
    .objs = objs,
    .states = states,
    .replace = true,
};

KLP_PATCH(patch);
