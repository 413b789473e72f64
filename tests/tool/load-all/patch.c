// SPDX-License-Identifier: MIT
/*
 * patch.c - the patch of the `uklp load --all` scenarios, built by the
 * test at run time:
 *   -DALL_LIB='"libuklp_all_X.so"'  replace all_show() of that library
 *   -DWITH_EXTRA                    and all_extra() too
 *   -DMAIN_BUILD_ID='"hex"'         replace cmdline_show() of the main
 *                                   program pinned to that build-id instead
 */
#include <uklp/livepatch.h>

#ifdef MAIN_BUILD_ID
static const char *fix_cmdline_show(void)
{
	return "load_all_fix: this has been live patched";
}

static struct klp_func funcs[] = {
    {.old_name = "cmdline_show", .new_func = fix_cmdline_show}, {}};

static struct klp_object objs[] = {
    {.name = NULL, .funcs = funcs, .build_id = MAIN_BUILD_ID}, {}};
#else
#ifndef ALL_LIB
#error "build with -DALL_LIB='\"libname.so\"' or -DMAIN_BUILD_ID='\"hex\"'"
#endif
static const char *fix_all_show(void)
{
	return "load_all_fix: this has been live patched";
}

#ifdef WITH_EXTRA
static const char *fix_all_extra(void)
{
	return "load_all_fix: extra patched";
}
#endif

static struct klp_func funcs[] = {
    {.old_name = "all_show", .new_func = fix_all_show},
#ifdef WITH_EXTRA
    {.old_name = "all_extra", .new_func = fix_all_extra},
#endif
    {}};

static struct klp_object objs[] = {{.name = ALL_LIB, .funcs = funcs}, {}};
#endif

static struct klp_patch patch = {.objs = objs};

KLP_PATCH(patch);
