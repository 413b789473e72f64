// SPDX-License-Identifier: MIT
/*
 * test_klp_callbacks_demo2.c - port of the kernel's test_klp_callbacks_demo2:
 * callbacks on the main executable only.
 *
 * The module parameter replace=1 is the build variant
 * patches/replace/test_klp_callbacks_demo2.so (-DREPLACE=1).
 */
#include "test_klp.h"

#ifndef REPLACE
#define REPLACE 0
#endif

/* Executed on object patching (ie, patch enablement) */
static int pre_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
	return 0;
}

/* Executed on object patching (ie, patch enablement) */
static void post_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

/* Executed on object unpatching (ie, patch disablement) */
static void pre_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

/* Executed on object unpatching (ie, patch disablement) */
static void post_unpatch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
}

static struct klp_func no_funcs[] = {{}};

static struct klp_object objs[] = {
    {
	.name = NULL, /* vmlinux */
	.funcs = no_funcs,
	.callbacks =
	    {
		.pre_patch = pre_patch_callback,
		.post_patch = post_patch_callback,
		.pre_unpatch = pre_unpatch_callback,
		.post_unpatch = post_unpatch_callback,
	    },
    },
    {}};

static struct klp_patch patch = {
    .objs = objs,
    .replace = REPLACE,
};

KLP_PATCH(patch);
