// SPDX-License-Identifier: MIT
/*
 * prio.c - scheduling priority for the tool and for the target thread it
 * waits for.
 *
 * On a machine with few CPUs and a target with many runnable threads, a
 * thread of nice 0 that wakes up waits for many of them to run a slice
 * first (hundreds of ms with 500 busy threads on 2 CPUs): a thread the
 * tool interrupts before it takes the trap, the thread that runs a
 * hijacked call, and the tool itself after each wait - and a thread that
 * the tool stopped waits while the tool is preempted. So:
 *
 *  - the tool makes itself SCHED_FIFO (priority 1, reset on fork) for the
 *    rest of its life, or nice -20 where real time is not permitted: then
 *    no ordinary thread preempts it while a target thread is stopped. It
 *    never spins: every wait of the tool sleeps or blocks;
 *  - a target thread gets nice -20 (setpriority(PRIO_PROCESS, tid) sets
 *    one thread's value on Linux) while the tool waits for its trap, and
 *    its own value back when the tool lets it go (or, for a hijacked call,
 *    once the call has answered; for a thread that could not be switched
 *    because it was running where it cannot be checked, at the next pass).
 *
 * A tool killed while a target thread has nice -20 leaves it so (it runs
 * correctly, only favoured by the scheduler) until it exits or is reniced.
 * UKLP_TOOL_BOOST=0 turns all of this off, UKLP_TOOL_BOOST=nice keeps the
 * tool out of real time.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "prio.h"

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* -1: off (UKLP_TOOL_BOOST=0, or no permission); 0: not known; 1: on. */
static int prio_ok;

static int enabled(void)
{
	if (!prio_ok) {
		const char *e = getenv("UKLP_TOOL_BOOST");

		prio_ok = e && !strcmp(e, "0") ? -1 : 1;
	}
	return prio_ok > 0;
}

/**
 * prio_boost() - raise a thread's priority to PRIO_BOOST_NICE
 * @tid:	the thread (another process's too)
 * @s:		out: what prio_restore() puts back (s->tid 0: nothing changed)
 *
 * Nothing is changed when boosting is off, not permitted (then not tried
 * again), or the thread is already at PRIO_BOOST_NICE.
 */
void prio_boost(pid_t tid, struct prio_saved *s)
{
	int old;

	s->tid = 0;
	s->old = 0;
	if (tid <= 0 || !enabled())
		return;
	errno = 0;
	old = getpriority(PRIO_PROCESS, (id_t)tid);
	if ((old == -1 && errno) || old <= PRIO_BOOST_NICE)
		return;
	if (setpriority(PRIO_PROCESS, (id_t)tid, PRIO_BOOST_NICE)) {
		if (errno == EACCES)
			prio_ok = -1; /* no CAP_SYS_NICE: do without */
		return;
	}
	s->tid = tid;
	s->old = old;
}

/**
 * prio_restore() - put back the nice value prio_boost() changed
 * @s:		as prio_boost() filled it; cleared
 *
 * A thread that is gone is not an error.
 */
void prio_restore(struct prio_saved *s)
{
	if (s->tid > 0)
		setpriority(PRIO_PROCESS, (id_t)s->tid, s->old);
	s->tid = 0;
}

/**
 * prio_boost_self() - raise the calling (single-threaded) tool's priority
 * for the rest of its life
 *
 * SCHED_FIFO priority 1 with SCHED_RESET_ON_FORK, else nice -20; nothing
 * when not permitted or UKLP_TOOL_BOOST=0. Called more than once, it does
 * the work once.
 */
void prio_boost_self(void)
{
	static int done;
	struct sched_param sp = {.sched_priority = 1};
	const char *e = getenv("UKLP_TOOL_BOOST");
	struct prio_saved s;

	if (done || !enabled())
		return;
	done = 1;
	if (!(e && !strcmp(e, "nice")) &&
	    !sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
		return;
	prio_boost(getpid(), &s); /* never put back: it dies with us */
}
