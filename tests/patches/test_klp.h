/* SPDX-License-Identifier: MIT */
/*
 * test_klp.h - shared by the test patches (ports of the kernel's
 * tools/testing/selftests/livepatch/test_modules).
 *
 * KBUILD_MODNAME is the patch name (tests.mk passes -DKBUILD_MODNAME="name"),
 * so that pr_info() lines read "<patch>: ..." as the modules' pr_fmt makes
 * them. Module parameters are build variants here: tests.mk builds
 * patches/<variant>/<name>.so with the variant's -D flags, which keeps the
 * patch name, hence the transcripts, the kernel's.
 */
#ifndef UKLP_TEST_KLP_H
#define UKLP_TEST_KLP_H

#include <errno.h>
#include <stddef.h>

#include <uklp/livepatch.h>

#ifndef KBUILD_MODNAME
#error "build with -DKBUILD_MODNAME=\"patch_name\""
#endif

#define pr_info(fmt, ...)                                                      \
	uklp_printk(UKLP_LOG_INFO, KBUILD_MODNAME ": " fmt, ##__VA_ARGS__)

/* The modules' callback_info(): vmlinux, or "<object> -> <state>". */
static inline void callback_info(const char *callback,
				 const struct klp_object *obj)
{
	if (obj->name)
		pr_info("%s: %s -> %s", callback, obj->name,
			klp_object_state_name(obj));
	else
		pr_info("%s: vmlinux", callback);
}

#endif /* UKLP_TEST_KLP_H */
