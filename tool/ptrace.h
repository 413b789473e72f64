/* SPDX-License-Identifier: MIT */
/*
 * ptrace - stopping one thread of a target at a time, never all of them
 * (PTRACE_SEIZE + PTRACE_INTERRUPT; never PTRACE_ATTACH, no SIGSTOP).
 * Prefix: pt_.
 */
#ifndef UKLP_TOOL_PTRACE_H
#define UKLP_TOOL_PTRACE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "prio.h"

/* One seized and stopped thread. */
struct pt_thread {
	pid_t tid;
	struct user_regs_struct regs; /* as it was stopped */
	int in_syscall;		      /* stopped inside a system call */
	uint64_t stop_ns;	      /* CLOCK_MONOTONIC when it stopped */
	/* additions */
	uint64_t resume_ns; /* CLOCK_MONOTONIC when let go, or 0 */
	int group_stop;	    /* the process is job-control stopped */
	int delivered;	    /* signals passed on while stopping it */
	uint64_t seize_ns;  /* CLOCK_MONOTONIC when PTRACE_SEIZE was issued */
	struct prio_saved prio; /* its nice value while it is ours */
	int keep_prio;		/* pt_resume() leaves the boost to the caller */
	int stopped;		/* pt_wait_any(): its trap was collected */
	uint64_t look_ns;	/* pt_wait_any(): last seen not yet stopped */
};

/**
 * pt_stop() - seize one thread and stop it where it is
 * @tid:	thread id
 * @t:		filled on success (registers read)
 *
 * Return: 0, -ESRCH (gone), -EPERM, -EBUSY (traced by someone else), or
 * -errno.
 */
int pt_stop(pid_t tid, struct pt_thread *t);

/**
 * pt_interrupt() - seize one thread and ask it to stop, without waiting
 * @tid:	thread id
 * @t:		filled: the thread, not stopped yet
 *
 * The thread gets nice -20 (prio_boost()) until pt_resume(), so that it
 * takes the trap at once even on a busy machine. Collect its stop with
 * pt_wait_any() (or pt_stop(), which does both).
 *
 * Return: 0, -ESRCH (gone), -EPERM, -EBUSY (traced by someone else), or
 * -errno.
 */
int pt_interrupt(pid_t tid, struct pt_thread *t);

/**
 * pt_wait_any() - wait until one of several interrupted threads is stopped
 * @ts:		threads given to pt_interrupt() whose stop was not collected
 *		yet (entries with ->stopped set are skipped)
 * @n:		number of @ts
 * @which:	out: the index in @ts of the thread the result is about
 * @block:	0: only look, do not wait (-EAGAIN when none has stopped)
 *
 * Signals that come first are passed on as pt_stop() does. A thread's
 * stop_ns is the last moment the tool looked for its trap and had not
 * seen it: a thread that stopped while the tool was busy with another one
 * counts that time as paused.
 *
 * Return: 0 (@ts[*which] stopped, registers read), -ESRCH (@ts[*which] is
 * gone, reaped), -ENOENT (no thread left to wait for), -EAGAIN (!@block
 * and none stopped yet), or -errno.
 */
int pt_wait_any(struct pt_thread **ts, size_t n, size_t *which, int block);

/**
 * pt_setregs() - write the stopped thread's registers
 * @t:		stopped thread
 * @regs:	new registers
 *
 * Return: 0 or -errno.
 */
int pt_setregs(struct pt_thread *t, const struct user_regs_struct *regs);

/**
 * pt_getfpregs() - the stopped thread's x87/SSE state (fxsave layout, 512
 * bytes)
 * @t:		stopped thread
 * @fx:		out, 512 bytes
 *
 * Return: 0 or -errno.
 */
int pt_getfpregs(struct pt_thread *t, void *fx);

/**
 * pt_resume() - let the thread go and detach from it
 * @t:	stopped thread
 *
 * Its nice value is put back, unless @t->keep_prio (then @t->prio is the
 * caller's to prio_restore()).
 *
 * Return: 0 or -errno; the pause it saw is returned by pt_paused_ns().
 */
int pt_resume(struct pt_thread *t);

/**
 * pt_paused_ns() - how long the thread has been stopped (or was, after resume)
 * @t:	thread
 *
 * Return: nanoseconds.
 */
uint64_t pt_paused_ns(const struct pt_thread *t);

/**
 * pt_setfpregs() - write the stopped thread's x87/SSE state (fxsave layout)
 * @t:		stopped thread
 * @fx:		512 bytes
 *
 * Return: 0 or -errno.
 */
int pt_setfpregs(struct pt_thread *t, const void *fx);

/**
 * pt_getxstate() - the stopped thread's whole extended state (XSAVE
 * standard format, as XRSTOR takes it: x87, SSE, AVX, AVX-512, PKRU...)
 * @t:		stopped thread
 * @buf:	out
 * @cap:	size of @buf (the state is at most a few KiB; 16 KiB is plenty)
 * @len:	out: bytes of state
 *
 * Return: 0, -ENODEV (no XSAVE on this machine), -ENOSPC (@cap too small),
 * or -errno.
 */
int pt_getxstate(struct pt_thread *t, void *buf, size_t cap, size_t *len);

/**
 * pt_now_ns() - CLOCK_MONOTONIC in nanoseconds
 *
 * Return: the time.
 */
uint64_t pt_now_ns(void);

#endif
