/* SPDX-License-Identifier: MIT */
/*
 * prio - raising the scheduling priority of the tool (SCHED_FIFO, else
 * nice -20) and of the target threads it waits for (SCHED_FIFO, else nice
 * -20, for as long as it waits), so that neither waits behind the
 * target's busy threads for a CPU (see prio.c). Prefix: prio_.
 *
 * Only where permitted (CAP_SYS_NICE, RLIMIT_NICE/RLIMIT_RTPRIO):
 * otherwise nothing is changed and nothing is said. UKLP_TOOL_BOOST=0
 * turns it off; UKLP_TOOL_BOOST=nice uses nice -20 only, never real time.
 */
#ifndef UKLP_TOOL_PRIO_H
#define UKLP_TOOL_PRIO_H

#include <sys/types.h>

/* The nice value the tool gives itself and the threads it waits for. */
#define PRIO_BOOST_NICE (-20)
/* The real-time priority (SCHED_FIFO) of those threads, and the tool's own:
 * higher, so that a boosted thread never keeps the tool from its CPU. */
#define PRIO_BOOST_RT 1
#define PRIO_SELF_RT  2

/* A thread whose priority was changed, and what to put back. */
struct prio_saved {
	pid_t tid;  /* 0: nothing to put back */
	int old;    /* its nice value before */
	int policy; /* its policy before (SCHED_OTHER, _BATCH or _IDLE) */
	int rt;	    /* 1: it is SCHED_FIFO now, 0: only reniced */
	int slot;   /* its entry in the guard's table, -1: none */
};

/**
 * prio_boost() - raise a target thread's priority while the tool waits
 * for it
 * @tid:	the thread (another process's)
 * @s:		out: what prio_restore() puts back (s->tid 0: nothing changed)
 *
 * SCHED_FIFO priority PRIO_BOOST_RT (it preempts every ordinary thread at
 * once), else nice PRIO_BOOST_NICE. The thread's own policy and nice value
 * are written first into the table of the guard process (prio.c), which
 * puts them back if the tool dies before prio_restore(). Nothing is
 * changed when boosting is off, not permitted (remembered: not tried
 * again), or the thread has a real-time policy of its own.
 */
void prio_boost(pid_t tid, struct prio_saved *s);

/**
 * prio_soften() - turn a real-time boost into nice PRIO_BOOST_NICE
 * @s:		as prio_boost() filled it
 *
 * For a thread let go with its boost kept for a while (a real-time busy
 * thread would keep a CPU from every other thread). prio_restore() still
 * puts its own values back.
 */
void prio_soften(struct prio_saved *s);

/**
 * prio_restore() - put back the policy and nice value prio_boost() changed
 * @s:		as prio_boost() filled it; cleared
 *
 * A thread that is gone is not an error.
 */
void prio_restore(struct prio_saved *s);

/**
 * prio_boost_self() - raise the calling (single-threaded) tool's priority
 * for the rest of its life
 *
 * SCHED_FIFO priority PRIO_SELF_RT (reset on fork), else nice -20. With many
 * runnable threads in the target the tool would otherwise wait a scheduling
 * round after each of its waits, and be preempted while a thread is stopped.
 * The tool never spins, so it never keeps a CPU from the target but for
 * its own short work. Harmless when not permitted; it dies with the tool.
 */
void prio_boost_self(void);

#endif
