// SPDX-License-Identifier: MIT
/*
 * unwind.c - a thread unwinding its own stack with libunwind, reliably or
 * not at all: a frame without CFI, an error, or a stack that does not end
 * at the thread's start makes the result "not now" (the kernel's
 * stack_trace_save_tsk_reliable() contract).
 */
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <string.h>
#include <ucontext.h>

#include "threads.h"

static int walk(unw_cursor_t *c, int skip, uintptr_t *pcs, size_t max,
		size_t *n)
{
	size_t k = 0;

	for (;;) {
		unw_proc_info_t pi;
		unw_word_t ip;
		int r;

		if (unw_get_reg(c, UNW_REG_IP, &ip) < 0)
			return -EAGAIN;
		/* A frame with no unwind info was guessed, not known. On
		 * x86-64 libunwind then still answers, with a made-up
		 * one-byte procedure and no unwind info. */
		if (unw_get_proc_info(c, &pi) < 0 ||
		    pi.end_ip <= pi.start_ip + 1)
			return -EAGAIN;
		if (skip > 0) {
			skip--;
		} else {
			if (k == max)
				return -EAGAIN;
			pcs[k++] = (uintptr_t)ip;
		}
		r = unw_step(c);
		if (r == 0)
			break; /* the outermost frame: RIP undefined in CFI */
		if (r < 0)
			return -EAGAIN;
	}
	*n = k;
	return 0;
}

int unwind_entry(uintptr_t func, const struct tramp_regs *regs, uintptr_t *pcs,
		 size_t max, size_t *n)
{
	unw_context_t uc;
	unw_cursor_t c;
	greg_t *g;

	memset(&uc, 0, sizeof(uc));
	g = uc.uc_mcontext.gregs;
	g[REG_RIP] = (greg_t)func;
	g[REG_RSP] = (greg_t)(uintptr_t)&regs->ret;
	g[REG_RBP] = (greg_t)regs->rbp;
	g[REG_RBX] = (greg_t)regs->rbx;
	g[REG_R12] = (greg_t)regs->r12;
	g[REG_R13] = (greg_t)regs->r13;
	g[REG_R14] = (greg_t)regs->r14;
	g[REG_R15] = (greg_t)regs->r15;
	g[REG_RAX] = (greg_t)regs->rax;
	g[REG_RDI] = (greg_t)regs->rdi;
	g[REG_RSI] = (greg_t)regs->rsi;
	g[REG_RDX] = (greg_t)regs->rdx;
	g[REG_RCX] = (greg_t)regs->rcx;
	g[REG_R8] = (greg_t)regs->r8;
	g[REG_R9] = (greg_t)regs->r9;
	g[REG_R10] = (greg_t)regs->r10;
	g[REG_R11] = (greg_t)regs->r11;
	/* Frame 0 is at a function entry, not after a call: without
	 * UNW_INIT_SIGNAL_FRAME libunwind would look up the CFI of pc - 1,
	 * find none (or the previous function's) and stop early. */
	if (unw_init_local2(&c, &uc, UNW_INIT_SIGNAL_FRAME) < 0)
		return -EAGAIN;
	return walk(&c, 0, pcs, max, n);
}

int unwind_self(int skip, uintptr_t *pcs, size_t max, size_t *n)
{
	unw_context_t uc;
	unw_cursor_t c;

	if (unw_getcontext(&uc) < 0 || unw_init_local(&c, &uc) < 0)
		return -EAGAIN;
	return walk(&c, skip + 1, pcs, max, n);
}

/**
 * unwind_init() - do libunwind's one-time set-up now
 *
 * The first local unwind of a process initializes libunwind under its own
 * lock. Left to the first self-switch tries, that happens while every
 * thread that calls a patched function tries at once: with more runnable
 * threads than CPUs they queued on that lock behind a preempted holder,
 * for seconds. One unwind here does it before any function is patched.
 */
void unwind_init(void)
{
	uintptr_t pcs[4];
	size_t n;

	(void)unwind_self(0, pcs, 4, &n);
}
