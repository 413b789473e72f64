// SPDX-License-Identifier: MIT
/*
 * test_klp_callbacks_demo.c - port of the kernel's test_klp_callbacks_demo:
 * callbacks on the main executable and the two test libraries, and a
 * replacement for the busy library's busymod_work_func().
 *
 * The module parameter pre_patch_ret is a build variant:
 *	patches/enodev/...so		(-DPRE_PATCH_RET=-ENODEV)
 *	patches/enodev-coming/...so	(-DPRE_PATCH_RET_COMING=-ENODEV)
 * The second stands for "echo -19 > .../pre_patch_ret" after the patch was
 * enabled: only objects loaded later (coming) see the error.
 */
#include <string.h>

#include "test_klp.h"

#ifndef PRE_PATCH_RET
#define PRE_PATCH_RET 0
#endif
#ifndef PRE_PATCH_RET_COMING
#define PRE_PATCH_RET_COMING PRE_PATCH_RET
#endif

/* Executed on object patching (ie, patch enablement) */
static int pre_patch_callback(struct klp_object *obj)
{
	callback_info(__func__, obj);
	if (!strcmp(klp_object_state_name(obj), "coming"))
		return PRE_PATCH_RET_COMING;
	return PRE_PATCH_RET;
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

static void patched_work_func(void)
{
	pr_info("%s", __func__);
}

static struct klp_func no_funcs[] = {{}};

static struct klp_func busymod_funcs[] = {{
					      .old_name = "busymod_work_func",
					      .new_func = patched_work_func,
					  },
					  {}};

#define CALLBACKS                                                              \
	{                                                                      \
		.pre_patch = pre_patch_callback,                               \
		.post_patch = post_patch_callback,                             \
		.pre_unpatch = pre_unpatch_callback,                           \
		.post_unpatch = post_unpatch_callback,                         \
	}

static struct klp_object objs[] = {{
				       .name = NULL, /* vmlinux */
				       .funcs = no_funcs,
				       .callbacks = CALLBACKS,
				   },
				   {
				       .name = "libtest_klp_callbacks_mod.so",
				       .funcs = no_funcs,
				       .callbacks = CALLBACKS,
				   },
				   {
				       .name = "libtest_klp_callbacks_busy.so",
				       .funcs = busymod_funcs,
				       .callbacks = CALLBACKS,
				   },
				   {}};

static struct klp_patch patch = {
    .objs = objs,
};

KLP_PATCH(patch);
