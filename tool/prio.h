/* SPDX-License-Identifier: MIT */
/*
 * prio - raising the scheduling priority of the tool (SCHED_FIFO, else
 * nice -20) and of the target threads it waits for (nice -20, for as long
 * as it waits), so that neither waits behind the target's busy threads for
 * a CPU (see prio.c). Prefix: prio_.
 *
 * Only where permitted (CAP_SYS_NICE, RLIMIT_NICE/RLIMIT_RTPRIO):
 * otherwise nothing is changed and nothing is said. UKLP_TOOL_BOOST=0
 * turns it off; UKLP_TOOL_BOOST=nice keeps the tool out of real time.
 */
#ifndef UKLP_TOOL_PRIO_H
#define UKLP_TOOL_PRIO_H

#include <sys/types.h>

/* The nice value the tool gives itself and the threads it waits for. */
#define PRIO_BOOST_NICE (-20)

/* A thread whose nice value was changed, and the value to put back. */
struct prio_saved {
	pid_t tid; /* 0: nothing to put back */
	int old;   /* its nice value before */
};

/**
 * prio_boost() - raise a thread's priority to PRIO_BOOST_NICE
 * @tid:	the thread (another process's too)
 * @s:		out: what prio_restore() puts back (s->tid 0: nothing changed)
 *
 * Nothing is changed when boosting is off, not permitted (remembered: not
 * tried again), or the thread is already at PRIO_BOOST_NICE or better.
 */
void prio_boost(pid_t tid, struct prio_saved *s);

/**
 * prio_restore() - put back the nice value prio_boost() changed
 * @s:		as prio_boost() filled it; cleared
 *
 * A thread that is gone is not an error.
 */
void prio_restore(struct prio_saved *s);

/**
 * prio_boost_self() - raise the calling (single-threaded) tool's priority
 * for the rest of its life
 *
 * SCHED_FIFO priority 1 (reset on fork), else nice -20. With many runnable
 * threads in the target the tool would otherwise wait a scheduling round
 * after each of its waits, and be preempted while a thread is stopped.
 * The tool never spins, so it never keeps a CPU from the target but for
 * its own short work. Harmless when not permitted; it dies with the tool.
 */
void prio_boost_self(void);

#endif
