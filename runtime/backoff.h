/* SPDX-License-Identifier: MIT */
/*
 * backoff - how the runtime waits for another thread to leave a short
 * section (an SRCU reader, a SIGTRAP handler holding a slot): yield a few
 * times, then sleep, 1 us doubling up to 1 ms. Prefix: backoff_.
 *
 * Only yielding is not enough: the waiter may be real time (the tool
 * makes the thread that runs its hijacked call SCHED_FIFO), and a real-time
 * thread's sched_yield() never lets an ordinary thread of its CPU run -
 * possibly the very reader it waits for, preempted inside its section.
 */
#ifndef UKLP_BACKOFF_H
#define UKLP_BACKOFF_H

#include <sched.h>
#include <time.h>

#define BACKOFF_YIELDS	  16
#define BACKOFF_MAX_SHIFT 10 /* 1 us << 10: about 1 ms */

/*
 * backoff_wait() - one step of a wait
 * @n:		the caller's counter, 0 at the start of the wait
 */
static inline void backoff_wait(unsigned int *n)
{
	unsigned int k = *n;
	struct timespec ts;

	*n = k + 1;
	if (k < BACKOFF_YIELDS) {
		sched_yield();
		return;
	}
	k -= BACKOFF_YIELDS;
	ts.tv_sec = 0;
	ts.tv_nsec = 1000L << (k < BACKOFF_MAX_SHIFT ? k : BACKOFF_MAX_SHIFT);
	nanosleep(&ts, NULL);
}

#endif
