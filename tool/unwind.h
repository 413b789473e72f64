/* SPDX-License-Identifier: MIT */
/*
 * unwind - unwinding a stopped thread of another process (libunwind's
 * remote interface), reliably or not at all: a frame without CFI, an error,
 * or a stack that does not end at the thread's start makes the result "not
 * now", never "clean" (the kernel's stack_trace_save_tsk_reliable()
 * contract). Prefix: unwind_.
 *
 * The CFI is found through each object's .eh_frame_hdr, read from the
 * target's memory; read-only pages of the objects are cached between calls,
 * so a warm unwind reads little more than the thread's stack.
 */
#ifndef UKLP_TOOL_UNWIND_H
#define UKLP_TOOL_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "proc.h"

/**
 * unwind_remote() - unwind a stopped thread of another process
 * @tid:	the thread, stopped by the caller (pt_stop())
 * @pcs:	out: program counters, frame 0 (the current PC) first
 * @max:	room in @pcs
 * @n:		out: frames stored
 *
 * Reads the registers with ptrace and keeps its own view of the thread's
 * process (read again when a PC lies in no known object).
 *
 * Return: 0 when the unwind is reliable (every frame has CFI and the last
 * step ends the chain), -EAGAIN otherwise, or another -errno.
 */
int unwind_remote(pid_t tid, uintptr_t *pcs, size_t max, size_t *n);

/**
 * unwind_remote_regs() - unwind a stopped thread from known registers
 * @p:		the view of the thread's process (its objects must be
 *		current: proc_refresh() after a library was loaded)
 * @regs:	the thread's registers (as pt_stop() read them)
 * @pcs:	out: program counters, frame 0 (the current PC) first
 * @max:	room in @pcs
 * @n:		out: frames stored
 *
 * Return: 0 when reliable; -ENOENT when unreliable because a PC lies in
 * no object of @p (generated code, or a library loaded since @p was read:
 * proc_refresh() and try again later); -EAGAIN when unreliable otherwise;
 * or another -errno.
 */
int unwind_remote_regs(struct proc *p, const struct user_regs_struct *regs,
		       uintptr_t *pcs, size_t max, size_t *n);

/**
 * unwind_prepare() - do the one-time work before any thread is stopped
 * @p:	the view of the process about to be unwound
 *
 * Initializes libunwind and reads where each object's unwind table is,
 * so that the first unwind_remote_regs() does not make a thread wait for
 * that. Optional.
 *
 * Return: 0 or -ENOMEM.
 */
int unwind_prepare(struct proc *p);

/**
 * unwind_flush() - forget everything cached about target processes
 *
 * Needed only when an object could have been replaced in place (same
 * path, same address) by a different file.
 */
void unwind_flush(void);

#endif
