// SPDX-License-Identifier: MIT
/*
 * callcost.c - the cost of one call of a small patched function.
 *
 *	callcost MODE N RUNS PATCH.so
 *
 * calls bench_fn() (bench_fn.c, built with the site flags of this binary:
 * callcost-pad or callcost-nop) N times through a volatile function
 * pointer, RUNS times, and prints one line of key=value pairs with the
 * median and minimum ns per call. MODE is the state of the site and of the
 * calling thread:
 *
 *   unpatched        bench_patch not loaded: the compiler's nops
 *   patched          loaded, transition complete: site -> trampoline ->
 *                    `jmp *mode` -> new_bench_fn
 *   trans-patched    loaded, transition held open by another thread parked
 *                    in the original bench_block(); the measuring thread
 *                    switched itself to PATCHED at its first call (its
 *                    stack holds no patched function): the dispatch block
 *                    sends it to new_bench_fn
 *   trans-unpatched  loaded from inside the original bench_outer(), which
 *                    stays on the measuring thread's stack: the thread
 *                    cannot switch and the dispatch block sends it to the
 *                    original bench_fn (with a switch attempt every
 *                    SWITCH_INTERVAL calls, see runtime/transition.c)
 *
 * The program checks that the mode is what it claims: which version ran
 * (the original's and the patch's call counters), that the transition is
 * complete or still in progress (uklp_ctl_stats()), and prints the entry
 * bytes of bench_fn before and after the load. Any mismatch exits 1.
 *
 * The measured loop is bench_loop() alone (a warm-up runs in bench_warm(),
 * a copy), so that `valgrind --tool=callgrind --toggle-collect=bench_loop`
 * counts exactly N calls (bench/run.sh).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uklp/control.h>

#include "bench.h"

#ifndef BENCH_SITE
#define BENCH_SITE "?"
#endif

#define WARM_CALLS 100000L

enum mode { M_UNPATCHED, M_PATCHED, M_TRANS_PATCHED, M_TRANS_UNPATCHED };

static const char *const mode_names[] = {
	[M_UNPATCHED] = "unpatched",
	[M_PATCHED] = "patched",
	[M_TRANS_PATCHED] = "trans-patched",
	[M_TRANS_UNPATCHED] = "trans-unpatched",
};

struct cfg {
	enum mode mode;
	long n;
	int runs;
	char patch[PATH_MAX];
	char entry_before[32];
	char entry_after[32];
	int failed;
};

static int (*volatile bench_ptr)(int) = bench_fn;

/* The measured loop: the only function callgrind collects. */
__attribute__((noipa)) int bench_loop(long n)
{
	int acc = 0;

	for (long i = 0; i < n; i++)
		acc = bench_ptr(acc);
	return acc;
}

/* The same loop, for the warm-up (and the measuring thread's first call). */
__attribute__((noipa)) int bench_warm(long n)
{
	int acc = 0;

	for (long i = 0; i < n; i++)
		acc = bench_ptr(acc);
	return acc;
}

static void fail(struct cfg *c, const char *fmt, const char *arg)
{
	fprintf(stderr, "callcost-%s %s: ", BENCH_SITE, mode_names[c->mode]);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	c->failed = 1;
}

/* The site's entry bytes (after an endbr64), as hex. */
static void entry_bytes(char *out, size_t len)
{
	const unsigned char *p = (const unsigned char *)(void *)bench_fn;

	if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		p += 4;
	snprintf(out, len, "%02x%02x%02x%02x%02x", p[0], p[1], p[2], p[3],
		 p[4]);
}

static unsigned long patch_calls(const struct cfg *c)
{
	unsigned long (*get)(void);
	void *h = dlopen(c->patch, RTLD_NOW | RTLD_NOLOAD);

	if (!h)
		return 0;
	get = (unsigned long (*)(void))dlsym(h, "bench_patch_calls");
	dlclose(h);
	return get ? get() : 0;
}

static long in_transition(void)
{
	struct uklp_stats st;

	uklp_ctl_stats(&st);
	return st.transition;
}

static int load(struct cfg *c)
{
	int ret = uklp_ctl_load(c->patch, 0);

	if (ret)
		fail(c, "load: %s", uklp_ctl_last_error());
	entry_bytes(c->entry_after, sizeof(c->entry_after));
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Warm up, then RUNS timed loops; check which version ran every call. */
static void measure(struct cfg *c)
{
	double ns[64], med;
	unsigned long old0, new0, d_old, d_new, total;
	int want_new = c->mode == M_PATCHED || c->mode == M_TRANS_PATCHED;

	bench_warm(WARM_CALLS);
	old0 = bench_calls_old;
	new0 = patch_calls(c);
	for (int r = 0; r < c->runs; r++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		bench_loop(c->n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[r] = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
			 (double)(t1.tv_nsec - t0.tv_nsec)) /
			(double)c->n;
	}
	d_old = bench_calls_old - old0;
	d_new = patch_calls(c) - new0;
	total = (unsigned long)c->n * (unsigned long)c->runs;
	if (want_new ? d_new != total || d_old : d_old != total || d_new)
		fail(c, "%s", "calls went to the wrong version of bench_fn");
	if ((c->mode == M_TRANS_PATCHED || c->mode == M_TRANS_UNPATCHED) &&
	    in_transition() != 1)
		fail(c, "%s", "the transition completed during the measurement");
	if ((c->mode == M_UNPATCHED || c->mode == M_PATCHED) && in_transition())
		fail(c, "%s", "a transition is in progress");

	qsort(ns, (size_t)c->runs, sizeof(ns[0]), cmp_double);
	med = c->runs & 1 ? ns[c->runs / 2] :
			    (ns[c->runs / 2 - 1] + ns[c->runs / 2]) / 2;
	printf("site=%s mode=%s n=%ld runs=%d ns_median=%.3f ns_min=%.3f "
	       "calls_old=%lu calls_new=%lu entry_before=%s entry_after=%s check=%s\n",
	       BENCH_SITE, mode_names[c->mode], c->n, c->runs, med, ns[0],
	       d_old, d_new, c->entry_before, c->entry_after,
	       c->failed ? "FAILED" : "ok");
}

struct blocker {
	volatile int entered, leave;
};

static void *blocker_main(void *arg)
{
	struct blocker *b = arg;

	bench_block(&b->entered, &b->leave);
	return NULL;
}

/* Runs inside the original bench_outer(): load, measure. */
static void outer_body(void *arg)
{
	struct cfg *c = arg;

	if (load(c))
		return;
	if (in_transition() != 1) {
		fail(c, "%s", "the transition completed at load");
		return;
	}
	measure(c);
}

int main(int argc, char **argv)
{
	static struct cfg c;
	struct blocker b = { 0, 0 };
	pthread_t th;
	int m, ret;

	if (argc != 5 || !realpath(argv[4], c.patch)) {
		fprintf(stderr,
			"usage: %s unpatched|patched|trans-patched|trans-unpatched N RUNS PATCH.so\n",
			argv[0]);
		return 2;
	}
	for (m = 0; m <= M_TRANS_UNPATCHED; m++)
		if (!strcmp(argv[1], mode_names[m]))
			break;
	c.mode = (enum mode)m;
	c.n = atol(argv[2]);
	c.runs = atoi(argv[3]);
	if (m > M_TRANS_UNPATCHED || c.n <= 0 || c.runs < 1 || c.runs > 64) {
		fprintf(stderr, "callcost: bad arguments\n");
		return 2;
	}
	entry_bytes(c.entry_before, sizeof(c.entry_before));
	strcpy(c.entry_after, c.entry_before);

	switch (c.mode) {
	case M_UNPATCHED:
		measure(&c);
		break;
	case M_PATCHED:
		if (load(&c))
			break;
		if (uklp_ctl_wait(5000)) {
			fail(&c, "%s", "the transition did not complete");
			break;
		}
		measure(&c);
		break;
	case M_TRANS_PATCHED:
		if (pthread_create(&th, NULL, blocker_main, &b)) {
			fail(&c, "%s", "pthread_create failed");
			break;
		}
		while (!b.entered)
			sched_yield();
		if (b.entered != 1)
			fail(&c, "%s", "the blocker is not in the original bench_block");
		if (!load(&c)) {
			if (in_transition() != 1)
				fail(&c, "%s", "the transition completed at load");
			else
				measure(&c);
		}
		b.leave = 1;
		pthread_join(th, NULL);
		/* The blocker is gone: the transition must complete now. */
		ret = uklp_ctl_wait(5000);
		if (ret)
			fail(&c, "%s", "the transition did not complete after the blocker left");
		break;
	case M_TRANS_UNPATCHED:
		bench_outer(outer_body, &c);
		/* Out of bench_outer: this thread can switch now. */
		ret = uklp_ctl_wait(5000);
		if (ret)
			fail(&c, "%s", "the transition did not complete after leaving bench_outer");
		break;
	}
	return c.failed ? 1 : 0;
}
