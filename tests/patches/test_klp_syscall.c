// SPDX-License-Identifier: MIT
/*
 * test_klp_syscall.c - port of the kernel's test_klp_syscall: replaces the
 * target's syscall_getpid() (the kernel's sys_getpid), which the target's
 * hammer threads call in a loop.
 *
 * The kernel module counts down the pids that have not yet run its
 * version; here each thread that runs the new version for the first time
 * decrements the target's klp_pending_threads (set to N by "hammer start N"),
 * reached through a klp_sym.
 */
#include "test_klp.h"

static int *klp_pending_threads;
static __thread int seen;

static const char *lp_syscall_getpid(void)
{
	int n;

	if (!seen) {
		seen = 1;
		n = __atomic_load_n(klp_pending_threads, __ATOMIC_ACQUIRE);
		while (n > 0 && !__atomic_compare_exchange_n(
				    klp_pending_threads, &n, n - 1, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			;
	}
	return KBUILD_MODNAME ": this has been live patched";
}

static struct klp_func funcs[] = {{
				      .old_name = "syscall_getpid",
				      .new_func = lp_syscall_getpid,
				  },
				  {}};

static struct klp_sym syms[] = {
    KLP_SYM("klp_pending_threads", 0, &klp_pending_threads), {}};

static struct klp_object objs[] = {{
				       /* name being NULL means vmlinux */
				       .funcs = funcs,
				       .syms = syms,
				   },
				   {}};

static struct klp_patch patch = {
    .objs = objs,
};

KLP_PATCH(patch);
