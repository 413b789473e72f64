// SPDX-License-Identifier: MIT
/*
 * test_consistency - a thread never mixes versions.
 *
 * chain_f() calls chain_g() (tests/system/chain.c); consistency_patch.so
 * replaces both, and its new f calls g through chain_g()'s patched entry.
 * Four threads call chain_f() in a hot loop and count what it
 * returns: 0x101 (old f, old g), 0x202 (new f, new g), or anything else
 * ("mixed": one version of f ran with the other version of g). Meanwhile the
 * main thread loads, waits for, disables and waits for the patch CYCLES
 * times with the control API; after each transition it checks that its own
 * chain_f() returns the version just installed.
 *
 * Passes when every control call succeeded, no chain was mixed and both the
 * old and the new version were really seen by the hammering threads.
 *
 * Usage: test_consistency [SCRATCH_DIR] (unused); consistency_patch.so is
 * taken from the directory of this program.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uklp/control.h>
#include <uklp/livepatch.h>

#include "chain.h"

#define CYCLES	 200
#define NTHREADS 4
#define WAIT_MS	 5000

static int run_cycles(const char *path, int *done)
{
	for (int i = 0; i < CYCLES; i++) {
		if (ctl_check(uklp_ctl_load(path, 0), "uklp_ctl_load", i) ||
		    ctl_check(uklp_ctl_wait(WAIT_MS),
			      "uklp_ctl_wait (patching)", i) ||
		    chain_check(CHAIN_NEW, "patching", i) ||
		    ctl_check(uklp_ctl_disable(PATCH_NAME), "uklp_ctl_disable",
			      i) ||
		    ctl_check(uklp_ctl_wait(WAIT_MS),
			      "uklp_ctl_wait (unpatching)", i) ||
		    chain_check(CHAIN_OLD, "unpatching", i))
			return -1;
		*done = i + 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long chains = 0, old = 0, new = 0, mixed = 0;
	/* update_every 0: no klp_update_patch_state(); the threads must
	 * switch by themselves at patched entries, in both directions. */
	struct hammer h[NTHREADS] = {0};
	char path[PATH_MAX];
	bool ok = true;
	int done = 0;
	int ret;

	(void)argc;
	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = patch_path(path, sizeof(path));
	if (ret || access(path, R_OK)) {
		printf("FAIL: no patch %s\n", ret ? "path" : path);
		return 1;
	}

	for (int i = 0; i < NTHREADS; i++) {
		ret = pthread_create(&h[i].thread, NULL, hammer_fn, &h[i]);
		if (ret) {
			printf("FAIL: pthread_create: %s\n", strerror(ret));
			ok = false;
			break;
		}
		h[i].started = true;
	}
	if (ok && run_cycles(path, &done))
		ok = false;

	/* Always stop and join the threads, whatever happened above. */
	atomic_store(&stop, true);
	for (int i = 0; i < NTHREADS; i++) {
		if (!h[i].started)
			continue;
		pthread_join(h[i].thread, NULL);
		chains += h[i].chains;
		old += h[i].old;
		new += h[i].new;
		mixed += h[i].mixed;
		if (h[i].mixed)
			printf("FAIL: thread %d: %lu mixed chains, first %#x\n",
			       i, h[i].mixed, h[i].first_mixed);
	}

	printf(
	    "consistency: %d cycles, %lu chains, old %lu, new %lu, mixed %lu\n",
	    done, chains, old, new, mixed);
	if (mixed)
		ok = false;
	if (!old || !new) {
		printf("FAIL: the threads never ran the %s version\n",
		       !old ? "old" : "new");
		ok = false;
	}
	printf("%s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
