// SPDX-License-Identifier: MIT
/*
 * lib.c - the library of the `uklp load --all` scenarios. The test builds
 * it at run time under a name of its own (libuklp_all_<unique>.so, as file
 * name or DT_SONAME), so that no other process on the machine has it and
 * --all can only find the test's own targets. -DNO_EXTRA leaves out
 * all_extra(): a patch of both functions is then refused there.
 */

/* Never inlined, never analysed by callers (tests/target/target.h). */
#ifdef __clang__
#define PATCHABLE __attribute__((noinline, optnone, used))
#else
#define PATCHABLE __attribute__((noinline, noipa, used))
#endif

/**
 * all_show() - what the load-all patch replaces
 *
 * Return: "all: original".
 */
PATCHABLE const char *all_show(void)
{
	return "all: original";
}

#ifndef NO_EXTRA
/**
 * all_extra() - replaced by the patch built with -DWITH_EXTRA
 *
 * Return: "extra: original".
 */
PATCHABLE const char *all_extra(void)
{
	return "extra: original";
}
#endif
