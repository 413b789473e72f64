// SPDX-License-Identifier: MIT
/*
 * bench_patch.c - the live patch of bench/callcost.c: replaces bench_fn()
 * with an equivalent (same instructions: one counter increment, x + 1),
 * and bench_block() and bench_outer(), whose originals the program uses to
 * hold a transition open (their new versions are never reached).
 *
 * The counter is static (RIP-relative, as the original's in the executable)
 * so that both versions execute the same instructions; the program reads it
 * through bench_patch_calls() (dlsym of the patch's handle).
 */
#include <time.h>

#include <uklp/livepatch.h>

#include "bench.h"

static unsigned long calls_new;

unsigned long bench_patch_calls(void);
unsigned long bench_patch_calls(void)
{
	return __atomic_load_n(&calls_new, __ATOMIC_RELAXED);
}

__attribute__((noinline)) static int new_bench_fn(int x)
{
	calls_new++;
	return x + 1;
}

__attribute__((noinline)) static void new_bench_block(volatile int *entered,
						      volatile int *leave)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	*entered = 2;
	while (!*leave)
		nanosleep(&ts, NULL);
}

__attribute__((noinline)) static unsigned long
new_bench_outer(void (*body)(void *), void *arg)
{
	static unsigned long runs;

	body(arg);
	__asm__ volatile("" ::: "memory");
	return ++runs;
}

static struct klp_func funcs[] = {{
				      .old_name = "bench_fn",
				      .new_func = new_bench_fn,
				  },
				  {
				      .old_name = "bench_block",
				      .new_func = new_bench_block,
				  },
				  {
				      .old_name = "bench_outer",
				      .new_func = new_bench_outer,
				  },
				  {}};

static struct klp_object objs[] = {{
				       /* NULL: the main executable */
				       .funcs = funcs,
				   },
				   {}};

static struct klp_patch patch = {
    .objs = objs,
};

KLP_PATCH(patch);
