/* SPDX-License-Identifier: MIT */
/*
 * target.h - shared by the conformance target and its libraries.
 *
 * Neither the target nor its libraries link libuklp.so: they find the
 * runtime's functions at run time (it is LD_PRELOADed, or injected later by
 * the uklp tool), so that they also run, and say so, without it.
 */
#ifndef UKLP_TEST_TARGET_H
#define UKLP_TEST_TARGET_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

/*
 * A function the tests patch: never inlined, and never analysed by the
 * callers (gcc would otherwise find that it returns a constant and call it
 * once for a whole loop).
 */
#ifdef __clang__
#define PATCHABLE __attribute__((noinline, optnone, used))
#else
#define PATCHABLE __attribute__((noinline, noipa, used))
#endif

/*
 * uklp_sym() - a function of the runtime, or NULL while it is not loaded.
 * Looks in the global scope first (LD_PRELOAD), then in libuklp.so if it
 * was loaded with RTLD_LOCAL (injection).
 */
static inline void *uklp_sym(const char *name)
{
	void *p = dlsym(RTLD_DEFAULT, name);
	void *h;

	if (p)
		return p;
	h = dlopen("libuklp.so", RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		return NULL;
	p = dlsym(h, name);
	dlclose(h);
	return p;
}

typedef void (*uklp_printk_fn)(int level, const char *fmt, ...);

/*
 * tlog() - the kernel modules' pr_info(): a line in the runtime's log.
 * Returns 0, or -1 when the runtime is not there.
 */
static inline __attribute__((format(printf, 1, 2))) int tlog(const char *fmt,
							     ...)
{
	static uklp_printk_fn printk;
	uklp_printk_fn fn = __atomic_load_n(&printk, __ATOMIC_ACQUIRE);
	char buf[1024];
	va_list ap;

	if (!fn) {
		fn = (uklp_printk_fn)uklp_sym("uklp_printk");
		if (!fn)
			return -1;
		__atomic_store_n(&printk, fn, __ATOMIC_RELEASE);
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(6, "%s", buf);
	return 0;
}

/* target_dup.c: its own static local_helper(), the second of that name. */
extern const char *(*const local_helper_2)(void);

#endif /* UKLP_TEST_TARGET_H */
