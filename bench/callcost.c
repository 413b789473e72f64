// SPDX-License-Identifier: MIT
/*
 * callcost.c - the cost of one call of a small patched function.
 *
 *	callcost MODE N RUNS PATCH.so
 *
 * calls bench_fn() (bench_fn.c, built with the site flags of this binary:
 * callcost-pad or callcost-nop) N times through a volatile function
 * pointer, RUNS times, each time paired with N calls of bench_ref(), an
 * identical function that is never patched, and prints one line of
 * key=value pairs: median and minimum ns per call, and the median ratio to
 * bench_ref. MODE is the state of the site and of the calling thread:
 *
 *   unpatched        bench_patch not loaded: the compiler's nops
 *   patched          loaded, transition complete: site -> trampoline ->
 *                    `jmp *mode` -> new_bench_fn
 *   trans-patched    patching transition held open by another thread
 *                    parked in the original bench_block(); the measuring
 *                    thread switched itself to PATCHED at its first call
 *                    (its stack holds no patched function): the dispatch
 *                    block sends it to new_bench_fn
 *   trans-unpatched  the patch loaded, then disabled: unpatching transition
 *                    held open by another thread parked in new_bench_block;
 *                    the measuring thread switched itself to UNPATCHED
 *                    (the target) at its first call: the dispatch block
 *                    sends it to the original bench_fn
 *   trans-stuck      patching transition started from inside the original
 *                    bench_outer(), which stays on the measuring thread's
 *                    stack: the thread cannot switch, stays UNPATCHED (not
 *                    yet in the target) and the dispatch block sends it to
 *                    the original, with a switch attempt (a stack unwind)
 *                    every SWITCH_INTERVAL calls (runtime/transition.c)
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
#include <limits.h>
#include <pthread.h>
#include <signal.h>
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

#define PATCH_NAME "bench_patch"

enum mode {
	M_UNPATCHED,
	M_PATCHED,
	M_TRANS_PATCHED,
	M_TRANS_UNPATCHED,
	M_TRANS_STUCK,
	M_NR
};

static const char *const mode_names[] = {
    [M_UNPATCHED] = "unpatched",
    [M_PATCHED] = "patched",
    [M_TRANS_PATCHED] = "trans-patched",
    [M_TRANS_UNPATCHED] = "trans-unpatched",
    [M_TRANS_STUCK] = "trans-stuck",
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
static int (*volatile ref_ptr)(int) = bench_ref;

/* The measured loop: the only function callgrind collects. */
__attribute__((noipa)) int bench_loop(long n)
{
	int acc = 0;

	for (long i = 0; i < n; i++)
		acc = bench_ptr(acc);
	return acc;
}

/* The same loop over bench_ref(), the unpatched reference. */
__attribute__((noipa)) int bench_loop_ref(long n)
{
	int acc = 0;

	for (long i = 0; i < n; i++)
		acc = ref_ptr(acc);
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

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double ns_per_call(int (*loop)(long), long n)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	loop(n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		(double)(t1.tv_nsec - t0.tv_nsec)) /
	       (double)n;
}

/*
 * Warm up, then RUNS timed loops of bench_fn, each paired with one of
 * bench_ref (in alternating order) for a ratio that machine noise between
 * processes does not skew; check which version ran every call.
 */
static void measure(struct cfg *c)
{
	double ns[64], ref[64], ratio[64], ns_min;
	unsigned long old0, new0, d_old, d_new, total;
	int want_new = c->mode == M_PATCHED || c->mode == M_TRANS_PATCHED;
	int want_trans = c->mode >= M_TRANS_PATCHED;

	bench_warm(WARM_CALLS);
	bench_loop_ref(WARM_CALLS);
	old0 = bench_calls_old;
	new0 = patch_calls(c);
	for (int r = 0; r < c->runs; r++) {
		if (r & 1) {
			ref[r] = ns_per_call(bench_loop_ref, c->n);
			ns[r] = ns_per_call(bench_loop, c->n);
		} else {
			ns[r] = ns_per_call(bench_loop, c->n);
			ref[r] = ns_per_call(bench_loop_ref, c->n);
		}
		ratio[r] = ns[r] / ref[r];
	}
	d_old = bench_calls_old - old0;
	d_new = patch_calls(c) - new0;
	total = (unsigned long)c->n * (unsigned long)c->runs;
	if (want_new ? d_new != total || d_old : d_old != total || d_new) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "%lu calls ran the original bench_fn and %lu the new "
			 "one, expected all %lu in the %s",
			 d_old, d_new, total,
			 want_new ? "new one" : "original");
		fail(c, "%s", msg);
	}
	if (in_transition() != want_trans)
		fail(c, "%s",
		     want_trans
			 ? "the transition completed during the measurement"
			 : "a transition is in progress");

	ns_min = ns[0];
	for (int r = 1; r < c->runs; r++)
		if (ns[r] < ns_min)
			ns_min = ns[r];
	printf("site=%s mode=%s n=%ld runs=%d ns_median=%.3f ns_min=%.3f "
	       "ref_ns_median=%.3f ratio_median=%.3f "
	       "calls_old=%lu calls_new=%lu entry_before=%s entry_after=%s "
	       "check=%s\n",
	       BENCH_SITE, mode_names[c->mode], c->n, c->runs,
	       median(ns, c->runs), ns_min, median(ref, c->runs),
	       median(ratio, c->runs), d_old, d_new, c->entry_before,
	       c->entry_after, c->failed ? "FAILED" : "ok");
	fflush(stdout);
}

/*
 * Map the main thread's stack 256 KB deep now. Under valgrind 3.19 a signal
 * whose handler has SA_ONSTACK (the runtime's SIGTRAP handler: its int3 on
 * the loader's r_brk fires in dlopen() of the patch) is delivered without
 * growing the main stack when no alternate stack is set ("Can't extend
 * stack ... during signal delivery", SIGSEGV). Natively this is a no-op.
 */
__attribute__((noinline)) static void stack_prefault(void)
{
	volatile char area[256 * 1024];

	memset((char *)area, 0, sizeof(area));
	__asm__ volatile("" : : "r"(area) : "memory");
}

/*
 * Under valgrind only (its preload is in LD_PRELOAD): an int3 trap arrives
 * with si_code TRAP_BRKPT, where Linux says SI_KERNEL, and the runtime's
 * SIGTRAP handler takes it for a foreign trap: the process dies of SIGTRAP
 * at the first dlopen() (the runtime's breakpoint on the loader's r_brk).
 * This shim, installed in front of the runtime's handler, relabels the
 * trap as the kernel would and calls that handler.
 */
static struct sigaction rt_sigtrap;

static void sigtrap_shim(int sig, siginfo_t *info, void *ctx)
{
	if (info->si_code == TRAP_BRKPT)
		info->si_code = SI_KERNEL;
	rt_sigtrap.sa_sigaction(sig, info, ctx);
}

static void valgrind_compat(void)
{
	const char *pre = getenv("LD_PRELOAD");
	struct sigaction act;

	if (!pre || !strstr(pre, "vgpreload"))
		return;
	if (sigaction(SIGTRAP, NULL, &rt_sigtrap) ||
	    !(rt_sigtrap.sa_flags & SA_SIGINFO))
		return;
	act = rt_sigtrap;
	act.sa_sigaction = sigtrap_shim;
	act.sa_flags &= ~SA_ONSTACK;
	sigaction(SIGTRAP, &act, NULL);
	fprintf(stderr,
		"callcost: under valgrind: SIGTRAP si_code shim installed\n");
}

struct blocker {
	pthread_t th;
	volatile int entered, leave;
};

static void *blocker_main(void *arg)
{
	struct blocker *b = arg;

	bench_block(&b->entered, &b->leave);
	return NULL;
}

/* A thread parked in bench_block(): 1 in the original, 2 in the new one. */
static int blocker_start(struct cfg *c, struct blocker *b, int want)
{
	if (pthread_create(&b->th, NULL, blocker_main, b)) {
		fail(c, "%s", "pthread_create failed");
		return -1;
	}
	while (!b->entered)
		sched_yield();
	if (b->entered != want)
		fail(c, "%s",
		     want == 1
			 ? "the blocker is not in the original bench_block"
			 : "the blocker is not in new_bench_block");
	return 0;
}

/* Let the blocker go: the transition must complete now. */
static void blocker_stop(struct cfg *c, struct blocker *b)
{
	b->leave = 1;
	pthread_join(b->th, NULL);
	if (uklp_ctl_wait(5000))
		fail(c, "after the blocker left: %s", uklp_ctl_last_error());
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
	struct blocker b = {0};
	int m;

	if (argc != 5 || !realpath(argv[4], c.patch)) {
		fprintf(stderr, "usage: %s MODE N RUNS PATCH.so\n", argv[0]);
		fprintf(stderr, "MODE: unpatched, patched, trans-patched, "
				"trans-unpatched or trans-stuck\n");
		return 2;
	}
	for (m = 0; m < M_NR; m++)
		if (!strcmp(argv[1], mode_names[m]))
			break;
	c.mode = (enum mode)m;
	c.n = atol(argv[2]);
	c.runs = atoi(argv[3]);
	if (m == M_NR || c.n <= 0 || c.runs < 1 || c.runs > 64) {
		fprintf(stderr, "callcost: bad arguments\n");
		return 2;
	}
	stack_prefault();
	valgrind_compat();
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
			fail(&c, "%s", uklp_ctl_last_error());
			break;
		}
		measure(&c);
		break;
	case M_TRANS_PATCHED:
		if (blocker_start(&c, &b, 1))
			break;
		if (!load(&c)) {
			if (in_transition() != 1)
				fail(&c, "%s",
				     "the transition completed at load");
			else
				measure(&c);
		}
		blocker_stop(&c, &b);
		break;
	case M_TRANS_UNPATCHED:
		if (load(&c))
			break;
		if (uklp_ctl_wait(5000)) {
			fail(&c, "%s", uklp_ctl_last_error());
			break;
		}
		if (blocker_start(&c, &b, 2))
			break;
		if (uklp_ctl_disable(PATCH_NAME)) {
			fail(&c, "disable: %s", uklp_ctl_last_error());
		} else if (in_transition() != 1) {
			fail(&c, "%s", "the transition completed at disable");
		} else {
			entry_bytes(c.entry_after, sizeof(c.entry_after));
			measure(&c);
		}
		blocker_stop(&c, &b);
		break;
	case M_TRANS_STUCK:
		bench_outer(outer_body, &c);
		/* Out of bench_outer: this thread can switch now. */
		if (uklp_ctl_wait(5000))
			fail(&c, "after leaving bench_outer: %s",
			     uklp_ctl_last_error());
		break;
	case M_NR:
		break;
	}
	return c.failed ? 1 : 0;
}
