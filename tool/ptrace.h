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

/* One seized and stopped thread. */
struct pt_thread {
	pid_t tid;
	struct user_regs_struct regs; /* as it was stopped */
	int in_syscall;		      /* stopped inside a system call */
	uint64_t stop_ns;	      /* CLOCK_MONOTONIC when it stopped */
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
 * pt_setregs() - write the stopped thread's registers
 * @t:		stopped thread
 * @regs:	new registers
 *
 * Return: 0 or -errno.
 */
int pt_setregs(struct pt_thread *t, const struct user_regs_struct *regs);

/**
 * pt_getfpregs() - the stopped thread's x87/SSE state (fxsave layout, 512 bytes)
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

#endif
