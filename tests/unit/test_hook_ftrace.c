// SPDX-License-Identifier: MIT
/*
 * test_hook_ftrace - a tracer and a live patch on the same function, on the
 * hook layer (runtime/hook.c): the kernel's selftest test-ftrace.sh
 * ("trace livepatched function and check that the live patch remains in
 * effect") at the level of ftrace_ops.
 *
 * A tracer ops (no IPMODIFY, ->func counts calls) and an IPMODIFY ops
 * (->state says KLP_PATCHED, the dispatch sends calls to a replacement)
 * share the pad site of f_traced:
 *   (a) tracer first, then the IPMODIFY ops: calls reach the replacement
 *       and the tracer sees each of them;
 *   (b) the IPMODIFY ops unregistered: the original again, still traced;
 *   (c) the IPMODIFY ops again, then a second IPMODIFY ops on the same
 *       function: -EBUSY, and nothing changed;
 *   (d) everything unregistered: the original, untraced, entry restored;
 *   (e) the other order: IPMODIFY first, then the tracer.
 * The main thread's calls are counted exactly (the tracer counts per
 * thread); two more threads call f_traced all along and check that every
 * result is the original's or the replacement's.
 *
 * Prints one line per check; exits 0 when all pass, 1 otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uklp/livepatch.h>

#include "hook.h"
#include "threads.h"
#include "check.h"

#ifdef __clang__
#define NOIPA __attribute__((noinline))
#else
#define NOIPA __attribute__((noipa))
#endif

#define NTHREADS 2
#define NCALLS	 100
#define ORIG(x)	 ((x) + 1)
#define REPL(x)	 ((x) + 1000000)
#define REPL2(x) ((x) + 2000000)

/* --- the functions --------------------------------------------------- */

__attribute__((patchable_function_entry(16, 14))) NOIPA int f_traced(int x)
{
	return ORIG(x);
}

/* No site: hook_location() must refuse it. */
NOIPA int f_plain(int x)
{
	return ORIG(x) * 3;
}

NOIPA int f_repl(int x)
{
	return REPL(x);
}

NOIPA int f_repl2(int x)
{
	return REPL2(x);
}

static int (*volatile call_fn)(int) = f_traced;

/* --- the ops --------------------------------------------------------- */

static __thread unsigned long tr_mine;	   /* this thread's traced calls */
static __thread unsigned long tr_last_arg; /* rdi at the last traced call */
static atomic_ulong tr_all, tr_bad_ip, tr_bad_ops;
static atomic_ulong st_calls, st2_calls;

static struct hook_ops tracer_ops, ipm_ops, ipm2_ops;

static void tracer_func(unsigned long ip, unsigned long parent_ip,
			struct hook_ops *ops, struct tramp_regs *regs)
{
	if (ip != (unsigned long)(uintptr_t)f_traced || !parent_ip)
		atomic_fetch_add(&tr_bad_ip, 1);
	if (ops != &tracer_ops)
		atomic_fetch_add(&tr_bad_ops, 1);
	tr_mine++;
	tr_last_arg = regs->rdi;
	atomic_fetch_add(&tr_all, 1);
}

static int ipm_state(struct hook_ops *ops, unsigned long ip,
		     struct tramp_regs *regs)
{
	atomic_fetch_add(&st_calls, 1);
	return KLP_PATCHED;
}

static int ipm2_state(struct hook_ops *ops, unsigned long ip,
		      struct tramp_regs *regs)
{
	atomic_fetch_add(&st2_calls, 1);
	return KLP_PATCHED;
}

/* --- other callers --------------------------------------------------- */

static atomic_int bg_stop;
static atomic_ulong bg_orig, bg_repl, bg_bad;

static void *bg_thread(void *arg)
{
	unsigned long o = 0, r = 0, bad = 0;
	int x = (int)(uintptr_t)arg * 100000;

	while (!atomic_load_explicit(&bg_stop, memory_order_relaxed)) {
		int v = call_fn(x);

		if (v == ORIG(x))
			o++;
		else if (v == REPL(x))
			r++;
		else
			bad++;
		x = (x + 1) % 900000;
		if (!((o + r) & 255)) {
			atomic_fetch_add(&bg_orig, o);
			atomic_fetch_add(&bg_repl, r);
			o = r = 0;
		}
	}
	atomic_fetch_add(&bg_orig, o);
	atomic_fetch_add(&bg_repl, r);
	atomic_fetch_add(&bg_bad, bad);
	return NULL;
}

/* --- helpers --------------------------------------------------------- */

struct calls {
	int orig, repl, repl2, other;
	unsigned long traced; /* by the tracer, in this thread */
	int arg_wrong;	      /* tracer saw another first argument */
};

/* NCALLS calls from this thread, sorted by where they went. */
static struct calls do_calls(void)
{
	unsigned long t0 = tr_mine;
	struct calls c = {0};

	for (int i = 0; i < NCALLS; i++) {
		unsigned long before = tr_mine;
		int x = 4242 + i, v = call_fn(x);

		if (v == ORIG(x))
			c.orig++;
		else if (v == REPL(x))
			c.repl++;
		else if (v == REPL2(x))
			c.repl2++;
		else
			c.other++;
		if (tr_mine != before && tr_last_arg != (unsigned long)x)
			c.arg_wrong++;
	}
	c.traced = tr_mine - t0;
	return c;
}

static void show(const char *what, struct calls c, bool ok)
{
	check(ok,
	      "%s: %d calls: %d original, %d replacement, %d second "
	      "replacement, %d other; %lu traced (%d with a wrong argument)",
	      what, NCALLS, c.orig, c.repl, c.repl2, c.other, c.traced,
	      c.arg_wrong);
}

static bool all_orig(struct calls c, bool traced)
{
	return c.orig == NCALLS && !c.arg_wrong &&
	       c.traced == (traced ? NCALLS : 0);
}

static bool all_repl(struct calls c, bool traced)
{
	return c.repl == NCALLS && !c.arg_wrong &&
	       c.traced == (traced ? NCALLS : 0);
}

static int dispatch(struct hook_ops *ops, int (*to)(int))
{
	uintptr_t t = (uintptr_t)to;

	return hook_set_dispatch(ops, (uintptr_t)f_traced, t, t, 1, 0,
				 KLP_PATCHED);
}

static void entry_bytes(uintptr_t e, uint8_t out[2])
{
	memcpy(out, (const void *)e, 2);
}

int main(int argc, char **argv)
{
	uintptr_t ip = (uintptr_t)f_traced;
	long sites0, armed0, tramps0, sites, armed, tramps;
	uint8_t e_orig[2], e_now[2], e_before[2];
	pthread_t th[NTHREADS];
	struct hook_loc loc;
	int ret, started = 0;
	unsigned long all0;
	struct calls c;

	(void)argc;
	(void)argv;
	ret = threads_init();
	check(ret == 0, "threads_init: %d", ret);
	ret = hook_init();
	check(ret == 0, "hook_init: %d", ret);
	if (ret)
		goto out;

	ret = hook_location(ip, &loc);
	check(ret == 0 && loc.kind == SITE_PAD && loc.reason == SITE_OK &&
		  (loc.entry == ip || loc.entry == ip + 4),
	      "hook_location(f_traced) from the executable's "
	      "__patchable_function_entries: ret %d kind %s entry func+%lu",
	      ret, site_kind_str(loc.kind), (unsigned long)(loc.entry - ip));
	if (ret)
		goto out;
	ret = hook_location((uintptr_t)f_plain, &loc);
	check(ret == -EOPNOTSUPP && loc.kind == SITE_NONE &&
		  loc.reason == SITE_NO_RECORD,
	      "hook_location(f_plain), no site: ret %d reason \"%s\"", ret,
	      site_reason_str(loc.reason));
	ret = hook_location(ip, &loc);
	entry_bytes(loc.entry, e_orig);
	hook_stats(&sites0, &armed0, &tramps0);

	tracer_ops.func = tracer_func;
	ipm_ops.state = ipm_state;
	ipm_ops.flags = HOOK_OPS_FL_IPMODIFY;
	ipm2_ops.state = ipm2_state;
	ipm2_ops.flags = HOOK_OPS_FL_IPMODIFY;
	check(hook_set_filter_ip(&tracer_ops, ip, 0) == 0 &&
		  hook_set_filter_ip(&ipm_ops, ip, 0) == 0 &&
		  hook_set_filter_ip(&ipm2_ops, ip, 0) == 0,
	      "filters of the three ops set to f_traced");

	for (int i = 0; i < NTHREADS; i++)
		started += !pthread_create(&th[i], NULL, bg_thread,
					   (void *)(uintptr_t)(i + 1));
	check(started == NTHREADS, "%d background callers started", started);

	c = do_calls();
	show("nothing registered", c, all_orig(c, false));

	/* (a) the tracer, then the live patch */
	ret = hook_register_ops(&tracer_ops);
	c = do_calls();
	show("(a) tracer registered", c, ret == 0 && all_orig(c, true));

	ret = hook_register_ops(&ipm_ops);
	c = do_calls();
	show("(a) IPMODIFY registered, no dispatch yet", c,
	     ret == 0 && all_orig(c, true));

	ret = dispatch(&ipm_ops, f_repl);
	c = do_calls();
	show("(a) IPMODIFY dispatching to the replacement", c,
	     ret == 0 && all_repl(c, true));

	/* (b) the live patch goes, the tracer stays */
	ret = hook_unregister_ops(&ipm_ops);
	c = do_calls();
	show("(b) IPMODIFY unregistered", c, ret == 0 && all_orig(c, true));

	/* (c) the live patch again, then a second one: refused */
	ret = hook_register_ops(&ipm_ops);
	ret = ret ? ret : dispatch(&ipm_ops, f_repl);
	c = do_calls();
	show("(c) IPMODIFY registered again", c, ret == 0 && all_repl(c, true));

	hook_stats(&sites, &armed, &tramps);
	entry_bytes(loc.entry, e_before);
	ret = hook_register_ops(&ipm2_ops);
	{
		long s2, a2, t2;

		hook_stats(&s2, &a2, &t2);
		entry_bytes(loc.entry, e_now);
		check(ret == -EBUSY && !ipm2_ops.registered && s2 == sites &&
			  a2 == armed && t2 == tramps &&
			  !memcmp(e_now, e_before, 2),
		      "(c) second IPMODIFY ops on the same function: ret %d "
		      "(want %d), registered %d, sites %ld->%ld armed "
		      "%ld->%ld trampolines %ld->%ld, entry %02x %02x -> "
		      "%02x %02x",
		      ret, -EBUSY, ipm2_ops.registered, sites, s2, armed, a2,
		      tramps, t2, e_before[0], e_before[1], e_now[0], e_now[1]);
	}
	c = do_calls();
	show("(c) after the refusal: still the first replacement", c,
	     all_repl(c, true) && !c.repl2);
	ret = dispatch(&ipm2_ops, f_repl2);
	c = do_calls();
	show("(c) dispatch by the refused ops: -EINVAL, nothing changed", c,
	     ret == -EINVAL && all_repl(c, true));
	ret = hook_unregister_ops(&ipm2_ops);
	check(ret == -EINVAL && atomic_load(&st2_calls) == 0,
	      "(c) unregistering the refused ops: ret %d; its ->state was "
	      "called %lu times",
	      ret, atomic_load(&st2_calls));

	/* (d) everything goes */
	ret = hook_unregister_ops(&tracer_ops);
	all0 = atomic_load(&tr_all); /* no ->func call may start after this */
	c = do_calls();
	show("(d) tracer unregistered: replacement, untraced", c,
	     ret == 0 && all_repl(c, false));
	ret = hook_unregister_ops(&ipm_ops);
	c = do_calls();
	show("(d) IPMODIFY unregistered: original, untraced", c,
	     ret == 0 && all_orig(c, false));
	hook_stats(&sites, &armed, &tramps);
	entry_bytes(loc.entry, e_now);
	check(!memcmp(e_now, e_orig, 2) && e_now[0] == 0x90 &&
		  e_now[1] == 0x90 && armed == armed0,
	      "(d) entry bytes %02x %02x restored, %ld sites armed", e_now[0],
	      e_now[1], armed);
	/* the other threads keep calling: nobody may reach the tracer now */
	for (int i = 0; i < 50; i++)
		sched_yield();
	c = do_calls();
	check(atomic_load(&tr_all) == all0,
	      "(d) no thread called the tracer after hook_unregister_ops() "
	      "returned (%lu calls after)",
	      atomic_load(&tr_all) - all0);

	/* (e) the other order */
	ret = hook_register_ops(&ipm_ops);
	ret = ret ? ret : dispatch(&ipm_ops, f_repl);
	c = do_calls();
	show("(e) IPMODIFY alone", c, ret == 0 && all_repl(c, false));
	ret = hook_register_ops(&tracer_ops);
	c = do_calls();
	show("(e) tracer added to the patched function", c,
	     ret == 0 && all_repl(c, true));
	ret = hook_unregister_ops(&ipm_ops);
	c = do_calls();
	show("(e) IPMODIFY unregistered first", c,
	     ret == 0 && all_orig(c, true));
	ret = hook_unregister_ops(&tracer_ops);
	c = do_calls();
	show("(e) tracer unregistered", c, ret == 0 && all_orig(c, false));
	entry_bytes(loc.entry, e_now);
	hook_stats(&sites, &armed, &tramps);
	check(!memcmp(e_now, e_orig, 2) && armed == armed0 && sites == 1,
	      "(e) entry bytes %02x %02x, sites %ld, armed %ld", e_now[0],
	      e_now[1], sites, armed);

	atomic_store(&bg_stop, 1);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	check(atomic_load(&bg_bad) == 0 && atomic_load(&bg_orig) > 0,
	      "background callers: %lu original, %lu replacement, %lu other "
	      "results",
	      atomic_load(&bg_orig), atomic_load(&bg_repl),
	      atomic_load(&bg_bad));
	check(atomic_load(&tr_bad_ip) == 0 && atomic_load(&tr_bad_ops) == 0,
	      "tracer: %lu calls in all, %lu with a wrong ip or parent_ip, "
	      "%lu with a wrong ops",
	      atomic_load(&tr_all), atomic_load(&tr_bad_ip),
	      atomic_load(&tr_bad_ops));
	printf("info: IPMODIFY ->state called %lu times (no transition)\n",
	       atomic_load(&st_calls));
out:
	printf("%d nchecks, %d failed\n", nchecks, nfailed);
	return nfailed ? 1 : 0;
}
