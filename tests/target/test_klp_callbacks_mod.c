// SPDX-License-Identifier: MIT
/*
 * test_klp_callbacks_mod.c - libtest_klp_callbacks_mod.so, the kernel
 * selftests' target module test_klp_callbacks_mod (and test_klp_mod_target):
 * its constructor and destructor log like the module's init and exit, and
 * mod_show() is the function test_klp_mod_patch replaces.
 */
#include <stdio.h>

#include "target.h"

#define pr_info(fmt, ...) tlog("test_klp_callbacks_mod: " fmt, ##__VA_ARGS__)

/**
 * mod_show() - what test_klp_mod_patch replaces (test_klp_mod_target_show)
 *
 * Return: "mod: original".
 */
PATCHABLE const char *mod_show(void)
{
	return "mod: original";
}

/* What mod_show() returned when the constructor called it. */
static char first_result[128];

/**
 * mod_first_result() - what mod_show() returned to the library's constructor
 *
 * A patch applied while the library loads (the kernel's module coming) must
 * already be in place when the library's own code first runs.
 *
 * Return: that string.
 */
PATCHABLE const char *mod_first_result(void)
{
	return first_result;
}

static __attribute__((constructor)) void test_klp_callbacks_mod_init(void)
{
	pr_info("%s", __func__);
	snprintf(first_result, sizeof(first_result), "%s", mod_show());
}

static __attribute__((destructor)) void test_klp_callbacks_mod_exit(void)
{
	pr_info("%s", __func__);
}
