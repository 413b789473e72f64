// SPDX-License-Identifier: MIT
/*
 * bench_fn.c - the patch target of bench/callcost.c, compiled with the site
 * flags being measured (see bench/bench.mk).
 */
#include <time.h>

#include "bench.h"

unsigned long bench_calls_old, bench_calls_ref;

__attribute__((noinline)) int bench_fn(int x)
{
	bench_calls_old++;
	return x + 1;
}

/* The same, never patched: the in-process reference of the timings. */
__attribute__((noinline)) int bench_ref(int x)
{
	bench_calls_ref++;
	return x + 1;
}

__attribute__((noinline)) void bench_block(volatile int *entered,
					   volatile int *leave)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	*entered = 1;
	while (!*leave)
		nanosleep(&ts, NULL);
}

__attribute__((noinline)) unsigned long bench_outer(void (*body)(void *),
						    void *arg)
{
	static unsigned long runs;

	body(arg);
	/* after the call: no tail call, this frame stays on the stack */
	__asm__ volatile("" ::: "memory");
	return ++runs;
}
