/* SPDX-License-Identifier: MIT */
/*
 * chain.h - what the system tests share: the patched call chain of chain.c
 * (chain_f() calls chain_g()), the threads that hammer it and count what
 * each chain returned, and the checks of the main thread's control calls.
 * Each test is one translation unit: the helpers are static.
 */
#ifndef UKLP_TESTS_CHAIN_H
#define UKLP_TESTS_CHAIN_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uklp/control.h>
#include <uklp/livepatch.h>

#define PATCH_NAME "consistency_patch"
#define CHAIN_OLD  0x101 /* old f, old g */
#define CHAIN_NEW  0x202 /* new f, new g */

int chain_f(void);

struct hammer {
	pthread_t thread;
	bool started;
	/* klp_update_patch_state() every N chains (a power of 2); 0: never */
	unsigned long update_every;
	unsigned long chains, old, new, mixed;
	int first_mixed;
};

static atomic_bool stop;

/* A thread calling chain_f() until @stop, counting old, new and mixed. */
static void *hammer_fn(void *arg)
{
	struct hammer *h = arg;
	unsigned long chains = 0, old = 0, new = 0, mixed = 0;
	int first_mixed = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int r = chain_f();

		if (r == CHAIN_OLD) {
			old++;
		} else if (r == CHAIN_NEW) {
			new ++;
		} else {
			if (!mixed++)
				first_mixed = r;
		}
		++chains;
		if (h->update_every && !(chains & (h->update_every - 1)))
			klp_update_patch_state();
	}
	h->chains = chains;
	h->old = old;
	h->new = new;
	h->mixed = mixed;
	h->first_mixed = first_mixed;
	return NULL;
}

/* The patch next to this program: DIR(/proc/self/exe)/consistency_patch.so */
static int patch_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/%s.so", exe, PATCH_NAME) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Report a failed control call; returns its value. */
static int ctl_check(int ret, const char *what, int cycle)
{
	if (ret)
		printf("FAIL: cycle %d: %s: %s (%s)\n", cycle, what,
		       strerror(-ret), uklp_ctl_last_error());
	return ret;
}

/* The main thread's own view right after a completed transition. */
static int chain_check(int want, const char *after, int cycle)
{
	int r = chain_f();

	if (r == want)
		return 0;
	printf(
	    "FAIL: cycle %d: chain_f() returned %#x after %s, expected %#x\n",
	    cycle, r, after, want);
	return -1;
}

#endif
