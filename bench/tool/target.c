// SPDX-License-Identifier: MIT
/*
 * target.c - the process the pause benchmark patches (bench/tool/run.sh).
 *
 *   tool-target NTHREADS
 *
 * NTHREADS threads in all, the main thread included: ceil(N/2) busy, the
 * others blocked in system calls. A busy thread calls f0000() and then the
 * next of f0000..f0999 (through tool_fns[]), then does about a microsecond
 * of work of its own (spin()): the patched functions are called all the
 * time, but a thread is inside one of them only a few percent of its time
 * (a stop-the-world patcher has to catch every thread outside them). A
 * blocked thread waits in read() on a pipe nobody writes (even ones) or in
 * nanosleep() of an hour (odd ones). With N = 1 the main thread is the busy
 * thread; otherwise it is a blocked one (read()).
 *
 * When every thread has started, it prints "ready PID" on standard output
 * (the pipe of bench/tool/pausebench.c). It never exits by itself: the
 * benchmark kills it (SIGKILL; also PR_SET_PDEATHSIG if the benchmark dies).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "target.h"

#define STACK_SIZE (256 * 1024) /* the tool's injection wants 64 KiB free */
#define SPIN	   3000

static int block_pipe[2];
static int started;
static volatile int sink;

__attribute__((noinline)) static int spin(int acc)
{
	for (int k = 0; k < SPIN; k++) {
		acc = acc * 1103515245 + 12345;
		__asm__ volatile("" : "+r"(acc));
	}
	return acc;
}

__attribute__((noinline)) static void busy_loop(unsigned i)
{
	int acc = (int)i;

	for (;;) {
		acc = f0000(acc);
		acc = tool_fns[i++ % TOOL_NFUNCS](acc);
		acc = spin(acc);
		sink = acc;
	}
}

__attribute__((noinline)) static void block_read(void)
{
	char c;

	for (;;)
		if (read(block_pipe[0], &c, 1) == 1)
			sink = c;
}

__attribute__((noinline)) static void block_sleep(void)
{
	for (;;) {
		struct timespec ts = {3600, 0};

		nanosleep(&ts, NULL);
	}
}

static void *thread_main(void *arg)
{
	long kind = (long)arg; /* 0: busy, 1: read, 2: sleep */

	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	if (kind == 0)
		busy_loop((unsigned)(unsigned long)pthread_self());
	else if (kind == 1)
		block_read();
	else
		block_sleep();
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;
	int nbusy, nblocked, others;
	pthread_attr_t a;

	if (n < 1) {
		fprintf(stderr, "usage: tool-target NTHREADS\n");
		return 2;
	}
	if (pipe(block_pipe)) {
		perror("tool-target: pipe");
		return 1;
	}
	nbusy = (n + 1) / 2;
	nblocked = n - nbusy;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, STACK_SIZE);
	/* Other threads: the busy ones, then the blocked ones but the main
	 * thread (which is the busy one when n == 1). */
	others = n - 1;
	for (int i = 0; i < others; i++) {
		long kind = i < nbusy ? 0 : ((i - nbusy) % 2 ? 2 : 1);
		pthread_t t;
		int e = pthread_create(&t, &a, thread_main, (void *)kind);

		if (e) {
			fprintf(stderr, "tool-target: thread %d: %s\n", i,
				strerror(e));
			return 1;
		}
	}
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < others)
		usleep(1000);
	printf("ready %d busy=%d blocked=%d\n", (int)getpid(), nbusy, nblocked);
	fflush(stdout);
	if (n == 1)
		busy_loop(1);
	block_read();
	return 0;
}
