/* SPDX-License-Identifier: MIT */
/*
 * inject - getting into a target (DESIGN.md 3): make one thread, stopped at
 * a safe point, call a function of the target and come back exactly where
 * it was, even if the tool dies at any moment. Prefix: inject_.
 */
#ifndef UKLP_TOOL_INJECT_H
#define UKLP_TOOL_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

#include "proc.h"

/**
 * inject_call() - make one thread of the target call fn(a0, a1, a2)
 * @p:		the process view
 * @fn:		target address of the function
 * @args:	three integer arguments
 * @strarg:	if not NULL, a string copied into the target (on the chosen
 *		thread's stack, below its red zone) whose address replaces
 *		args[1]
 * @timeout_ms:	how long to look for a thread at a safe point
 *
 * The call runs on its own once started; the caller learns its outcome
 * from target memory (see uklp_status). Only one thread is ever stopped,
 * for a few microseconds.
 *
 * Return: 0 when a thread was sent on the call, -EAGAIN (no thread at a
 * safe point in time), -ESRCH, -EPERM, or -errno.
 */
int inject_call(struct proc *p, uintptr_t fn, const uint64_t args[3],
		const char *strarg, int timeout_ms);

/**
 * inject_runtime() - load libuklp.so into the target if it is not there
 * @p:		the process view (refreshed on success)
 * @libpath:	absolute path of libuklp.so
 * @timeout_ms:	how long to wait for the runtime to be ready
 *
 * Return: 0 (loaded now or before), or -errno with a message printed.
 */
int inject_runtime(struct proc *p, const char *libpath, int timeout_ms);

/**
 * inject_tool_call() - uklp_tool_call(op, arg, token) in the target, waited
 * @p:		the process view (the runtime must be loaded)
 * @op:		enum uklp_abi_op
 * @arg:	string argument or NULL
 * @rc:		out: the runtime's return code
 * @msg:	out: its message
 * @msglen:	size of @msg
 * @timeout_ms:	how long to wait for the answer
 *
 * Return: 0 when an answer came (see @rc), -ETIMEDOUT, or -errno.
 */
int inject_tool_call(struct proc *p, int op, const char *arg, long *rc,
		     char *msg, size_t msglen, int timeout_ms);

/**
 * inject_call_on() - inject_call() with a choice of thread and argument
 * @p:		the process view
 * @only_tid:	0, or the one thread to use
 * @fn:		target address of the function
 * @args:	three integer arguments
 * @strarg:	if not NULL, a string copied into the target (below the
 *		chosen thread's red zone)
 * @stridx:	which argument (0, 1 or 2) the string's address replaces
 * @timeout_ms:	how long to look for a thread at a safe point
 *
 * Return: as inject_call(); inject_last_error() says why no thread was
 * safe.
 */
int inject_call_on(struct proc *p, pid_t only_tid, uintptr_t fn,
		   const uint64_t args[3], const char *strarg, int stridx,
		   int timeout_ms);

/**
 * inject_stub_regs() - for a thread stopped inside the restore stub, the
 * registers it will have when it leaves the stub
 * @p:		the process view
 * @regs:	the thread's registers (as pt_stop() read them)
 * @out:	filled on success
 *
 * A thread whose interrupted sleep the stub finishes may sit in the stub
 * for as long as that sleep; its call chain is the one it had when it was
 * hijacked: unwind it from these registers (unwind_remote_regs()).
 *
 * Return: 0, or -ENOENT when @regs->rip is not in a restore stub.
 */
int inject_stub_regs(struct proc *p, const struct user_regs_struct *regs,
		     struct user_regs_struct *out);

/**
 * inject_max_pause_ns() - the longest time one thread was stopped during
 * the last inject_call()
 *
 * Return: nanoseconds.
 */
uint64_t inject_max_pause_ns(void);

/**
 * inject_call_done() - the last call has answered (or will not be waited
 * for): give its thread its own nice value back
 *
 * The thread sent on a call by inject_call_on() keeps nice -20 (see
 * tool/prio.h) while it runs the call; inject_runtime() and
 * inject_tool_call() call this once the answer is in; a caller of
 * inject_call_on() does it itself (the next inject_call_on() does it
 * anyway).
 */
void inject_call_done(void);

/**
 * inject_last_error() - why the last inject_call() found no thread, or
 * what failed last
 *
 * Return: a message ("thread 123: in malloc (libc.so.6)"), "" if none.
 */
const char *inject_last_error(void);

#endif
