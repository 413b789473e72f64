// SPDX-License-Identifier: MIT
/*
 * prio.c - scheduling priority for the tool and for the target thread it
 * waits for.
 *
 * On a machine with few CPUs and a target with many runnable threads, a
 * thread of nice 0 that wakes up waits for many of them to run a slice
 * first (hundreds of ms with 500 busy threads on 2 CPUs): a thread the
 * tool interrupts before it takes the trap, the thread that runs a
 * hijacked call, the runtime's worker that completes the transition, and
 * the tool itself after each wait - and a thread that the tool stopped
 * waits while the tool is preempted. So:
 *
 *  - the tool makes itself SCHED_FIFO (priority 2, reset on fork) for the
 *    rest of its life, or nice -20 where real time is not permitted: then
 *    no ordinary thread preempts it while a target thread is stopped. It
 *    never spins: every wait of the tool sleeps or blocks;
 *  - a target thread is made SCHED_FIFO priority 1 while the tool waits
 *    for its trap (it runs at once, up to the trap: microseconds), and
 *    gets its own policy and nice value back while still stopped, before
 *    the tool lets it go; the thread that runs a hijacked call keeps the
 *    boost until the call answers, the runtime's worker while the tool
 *    waits for it to complete. nice -20 instead only made the thread
 *    wait for the next tick or two (4-8 ms, and up to 150 ms), and a
 *    1000-thread load took 1-2.7 s; with SCHED_FIFO 0.45-0.57 s (bench/,
 *    the same machine);
 *  - where real time is not permitted, or with UKLP_TOOL_BOOST=nice, nice
 *    -20 instead.
 *
 * The guard. A target thread left SCHED_FIFO by a tool killed at the wrong
 * moment would keep a CPU from every ordinary thread of the machine while
 * it runs. So before the first real-time boost the tool starts a guard:
 * a process of its own (double fork, own session: a ^C or a `timeout` of
 * the tool's group does not reach it) that shares a table with the tool
 * and blocks reading a pipe only the tool writes to. Each boost writes the
 * thread's own policy and nice value into the table first; the restore
 * clears the entry. When the tool is gone, however it died, the read
 * returns 0 and the guard puts back every entry still in the table whose
 * thread still has the boost (a tid reused since has not), then exits.
 * Without a guard (fork failed) only nice -20 is used: a tool killed then
 * leaves that thread at nice -20 (it runs correctly, only favoured by the
 * scheduler) until it exits or is reniced.
 *
 * UKLP_TOOL_BOOST=0 turns all of this off, UKLP_TOOL_BOOST=nice keeps both
 * the tool and the target threads out of real time.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prio.h"

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* Threads boosted at once: the switch window, threads let go with their
 * boost kept until the next pass (any number up to the target's), the
 * hijacked call's and the worker. */
#define GUARD_SLOTS 8192

enum { SLOT_FREE, SLOT_RT, SLOT_NICE };

/* One boosted thread, shared with the guard (MAP_SHARED). */
struct guard_slot {
	int32_t mode; /* SLOT_*: written last (release), read by the guard */
	int32_t tid;
	int32_t policy;
	int32_t nice;
};

/* -1: off (UKLP_TOOL_BOOST=0, or no permission); 0: not known; 1: on. */
static int prio_ok;
/* -1: no real time for target threads; 0: not tried yet; 1: guarded. */
static int rt_ok;
static struct guard_slot *guard_tab;
static int guard_next;

static int enabled(void)
{
	if (!prio_ok) {
		const char *e = getenv("UKLP_TOOL_BOOST");

		prio_ok = e && !strcmp(e, "0") ? -1 : 1;
		if (e && !strcmp(e, "nice"))
			rt_ok = -1;
	}
	return prio_ok > 0;
}

/* Put one thread's own policy and nice value back (tool or guard). */
static void put_back(pid_t tid, int policy, int nice)
{
	struct sched_param sp = {.sched_priority = 0};

	sched_setscheduler(tid, policy, &sp);
	setpriority(PRIO_PROCESS, (id_t)tid, nice);
}

/*
 * The guard's life: block until the tool is gone (EOF: only the tool held
 * the write end), then undo what is left in the table. A thread whose
 * entry is there but does not have the boost (the tool died before the
 * change, or the tid is another thread's now) is left alone.
 */
static __attribute__((noreturn)) void guard_main(int rfd)
{
	struct sched_param sp = {.sched_priority = PRIO_SELF_RT};
	char c;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* Nothing of the tool's kept open: a caller reading the tool's
	 * output until EOF must not wait for the guard. */
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (dup2(rfd, 3) == 3)
		rfd = 3;
	for (int i = rfd + 1; i < 1024; i++)
		close(i);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* Never waits behind the busy threads it is to put back. */
	sched_setscheduler(0, SCHED_FIFO, &sp);
	while (read(rfd, &c, 1) != 0)
		if (errno != EINTR)
			break;
	for (int i = 0; i < GUARD_SLOTS; i++) {
		struct guard_slot *g = &guard_tab[i];
		int mode = __atomic_load_n(&g->mode, __ATOMIC_ACQUIRE);

		if (mode == SLOT_RT && sched_getscheduler(g->tid) == SCHED_FIFO)
			put_back(g->tid, g->policy, g->nice);
		else if (mode == SLOT_NICE &&
			 getpriority(PRIO_PROCESS, (id_t)g->tid) ==
			     PRIO_BOOST_NICE)
			put_back(g->tid, g->policy, g->nice);
	}
	_exit(0);
}

/*
 * Start the guard once: the shared table, the pipe, a double fork (the
 * guard is nobody's child of ours: the tool's waits never see it). Returns
 * 0, or -errno (then there is no real-time boost).
 */
static int guard_start(void)
{
	struct sched_param sp = {.sched_priority = PRIO_SELF_RT};
	int pfd[2], st, rt_self;
	pid_t mid;

	guard_tab =
	    mmap(NULL, GUARD_SLOTS * sizeof(*guard_tab), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (guard_tab == MAP_FAILED) {
		guard_tab = NULL;
		return -ENOMEM;
	}
	/* The write end is the tool's alone: not inherited by what it
	 * might exec, closed by the kernel when the tool dies. */
	if (pipe2(pfd, O_CLOEXEC))
		goto err_map;
	/* The children must not wait for a CPU behind the target's busy
	 * threads (the tool waits for the first one; 300 ms measured):
	 * they inherit the tool's real time for this fork only. */
	rt_self = (sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_FIFO;
	if (rt_self)
		sched_setscheduler(0, SCHED_FIFO, &sp);
	mid = fork();
	if (!mid) {
		close(pfd[1]);
		setsid();
		if (fork() == 0)
			guard_main(pfd[0]);
		_exit(0);
	}
	if (rt_self)
		sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);
	if (mid < 0)
		goto err_pipe;
	close(pfd[0]);
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
	/* Left open for the tool's life; the guard sees EOF at its end. */
	return 0;
err_pipe:
	close(pfd[0]);
	close(pfd[1]);
err_map:
	munmap(guard_tab, GUARD_SLOTS * sizeof(*guard_tab));
	guard_tab = NULL;
	return -errno;
}

/* A free entry of the table written with @tid's own values, or -1. */
static int slot_take(pid_t tid, int policy, int nice, int mode)
{
	for (int k = 0; k < GUARD_SLOTS; k++) {
		int i = (guard_next + k) % GUARD_SLOTS;
		struct guard_slot *g = &guard_tab[i];

		if (g->mode != SLOT_FREE)
			continue;
		g->tid = tid;
		g->policy = policy;
		g->nice = nice;
		/* Pairs with the acquire in guard_main(). */
		__atomic_store_n(&g->mode, mode, __ATOMIC_RELEASE);
		guard_next = i + 1;
		return i;
	}
	return -1;
}

static void slot_set(int slot, int mode)
{
	if (slot >= 0)
		__atomic_store_n(&guard_tab[slot].mode, mode, __ATOMIC_RELEASE);
}

/* SCHED_FIFO for @tid under the guard's watch: 0, or -1 (not done). */
static int boost_rt(pid_t tid, struct prio_saved *s)
{
	struct sched_param sp = {.sched_priority = PRIO_BOOST_RT};

	if (rt_ok < 0 || (!rt_ok && (rt_ok = guard_start() ? -1 : 1) < 0))
		return -1;
	s->slot = slot_take(tid, s->policy, s->old, SLOT_RT);
	if (s->slot < 0)
		return -1;
	if (sched_setscheduler(tid, SCHED_FIFO, &sp)) {
		if (errno == EPERM)
			rt_ok = -1; /* no real time here: nice from now on */
		slot_set(s->slot, SLOT_FREE);
		s->slot = -1;
		return -1;
	}
	s->rt = 1;
	return 0;
}

/**
 * prio_boost() - raise a target thread's priority while the tool waits
 * for it
 * @tid:	the thread (another process's)
 * @s:		out: what prio_restore() puts back (s->tid 0: nothing changed)
 *
 * SCHED_FIFO under the guard's watch, else nice -20; nothing when boosting
 * is off or not permitted, or the thread has a real-time policy of its
 * own.
 */
void prio_boost(pid_t tid, struct prio_saved *s)
{
	int old, policy;

	*s = (struct prio_saved){.slot = -1};
	if (tid <= 0 || !enabled())
		return;
	errno = 0;
	old = getpriority(PRIO_PROCESS, (id_t)tid);
	if (old == -1 && errno)
		return;
	policy = sched_getscheduler(tid);
	/* Real time of its own: it needs nothing from us. */
	if (policy < 0 || policy == SCHED_FIFO || policy == SCHED_RR ||
	    policy > SCHED_IDLE)
		return;
	s->old = old;
	s->policy = policy;
	if (!boost_rt(tid, s)) {
		s->tid = tid;
		return;
	}
	if (old <= PRIO_BOOST_NICE && policy == SCHED_OTHER)
		return;
	if (guard_tab)
		s->slot = slot_take(tid, policy, old, SLOT_NICE);
	if (setpriority(PRIO_PROCESS, (id_t)tid, PRIO_BOOST_NICE)) {
		if (errno == EACCES)
			prio_ok = -1; /* no CAP_SYS_NICE: do without */
		slot_set(s->slot, SLOT_FREE);
		s->slot = -1;
		return;
	}
	s->tid = tid;
}

/**
 * prio_soften() - turn a real-time boost into nice -20
 * @s:		as prio_boost() filled it; its own values are still kept
 */
void prio_soften(struct prio_saved *s)
{
	struct sched_param sp = {.sched_priority = 0};

	if (s->tid <= 0 || !s->rt)
		return;
	/* Mark first: a guard that sees SLOT_RT with the policy already
	 * back to ordinary would leave the nice value of -20. */
	slot_set(s->slot, SLOT_NICE);
	sched_setscheduler(s->tid, SCHED_OTHER, &sp);
	setpriority(PRIO_PROCESS, (id_t)s->tid, PRIO_BOOST_NICE);
	s->rt = 0;
}

/**
 * prio_restore() - put back the policy and nice value prio_boost() changed
 * @s:		as prio_boost() filled it; cleared
 *
 * A thread that is gone is not an error.
 */
void prio_restore(struct prio_saved *s)
{
	if (s->tid > 0) {
		if (s->rt)
			put_back(s->tid, s->policy, s->old);
		else
			setpriority(PRIO_PROCESS, (id_t)s->tid, s->old);
		slot_set(s->slot, SLOT_FREE);
	}
	*s = (struct prio_saved){.slot = -1};
}

/**
 * prio_boost_self() - raise the calling (single-threaded) tool's priority
 * for the rest of its life
 *
 * SCHED_FIFO priority 2 with SCHED_RESET_ON_FORK, else nice -20; nothing
 * when not permitted or UKLP_TOOL_BOOST=0. Called more than once, it does
 * the work once.
 */
void prio_boost_self(void)
{
	static int done;
	struct sched_param sp = {.sched_priority = PRIO_SELF_RT};

	if (done || !enabled())
		return;
	done = 1;
	if (rt_ok >= 0 &&
	    !sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
		return;
	/* Never put back: it dies with us. */
	setpriority(PRIO_PROCESS, 0, PRIO_BOOST_NICE);
}
