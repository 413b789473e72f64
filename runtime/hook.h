/* SPDX-License-Identifier: MIT */
/*
 * hook - user-space ftrace: sites at function entries, hook ops with
 * filters, dispatch. Prefix: hook_.
 *
 * A client registers a struct hook_ops (the kernel's ftrace_ops) whose
 * filter lists function addresses. Several ops may share a site; at most
 * one per site may modify the instruction pointer (HOOK_OPS_FL_IPMODIFY):
 * a second gets -EBUSY, as in the kernel. An IPMODIFY ops says where a
 * call goes with hook_set_dispatch(): one target for threads in
 * KLP_PATCHED and one for KLP_UNPATCHED (the livepatch selection rule is
 * precomputed by the client), plus whether a transition is in progress;
 * its ->state callback gives a thread's state when the trampoline cannot
 * decide from the thread's word alone. Other ops get ->func called at
 * every entry.
 */
#ifndef UKLP_HOOK_H
#define UKLP_HOOK_H

#include <stdint.h>

#include "site.h"
#include "threads.h"

struct hook_ops;

typedef void (*hook_func_t)(unsigned long ip, unsigned long parent_ip,
			    struct hook_ops *ops, struct tramp_regs *regs);
typedef int (*hook_state_t)(struct hook_ops *ops, unsigned long ip,
			    struct tramp_regs *regs);

#define HOOK_OPS_FL_IPMODIFY 0x1

struct hook_ops {
	hook_func_t func;   /* tracer callback (ops without IPMODIFY) */
	hook_state_t state; /* IPMODIFY: the calling thread's patch state */
	unsigned long flags;
	void *private;

	/* private to hook.c */
	unsigned long *filter;
	size_t nfilter, cap;
	int registered;
};

/* Where a function could be hooked, or why not. */
struct hook_loc {
	enum site_kind kind;
	enum site_reason reason;
	uintptr_t entry;
	char why[96]; /* the reason with its details, "" when usable */
};

/**
 * hook_init() - set up text poking and trampolines
 *
 * Return: 0 or -errno.
 */
int hook_init(void);

/**
 * hook_location() - can @addr be hooked (the kernel's ftrace_location)
 * @addr:	a function's run-time address
 * @loc:	out: kind, or reason when not
 *
 * Return: 0 when it can, -EOPNOTSUPP (with @loc->reason) otherwise.
 */
int hook_location(uintptr_t addr, struct hook_loc *loc);

/**
 * hook_set_filter_ip() - add or remove one function of an ops' filter
 * @ops:	ops (not registered)
 * @ip:		function address
 * @remove:	non-zero removes
 *
 * Return: 0 or -errno.
 */
int hook_set_filter_ip(struct hook_ops *ops, uintptr_t ip, int remove);

/**
 * hook_register_ops() - start hooking every function of the ops' filter
 * @ops:	ops
 *
 * All or nothing: on failure no site is left changed.
 *
 * Return: 0, -EBUSY (another IPMODIFY ops owns a site), -EOPNOTSUPP (a
 * function has no usable site), or another -errno.
 */
int hook_register_ops(struct hook_ops *ops);

/**
 * hook_unregister_ops() - stop hooking the ops' functions
 * @ops:	registered ops
 *
 * On return no thread will call @ops->func or @ops->state any more.
 *
 * Return: 0 or -errno.
 */
int hook_unregister_ops(struct hook_ops *ops);

/**
 * hook_set_dispatch() - where calls of @ip go (IPMODIFY ops only)
 * @ops:	the registered IPMODIFY ops of the site
 * @ip:		function
 * @tgt_p:	target for threads in KLP_PATCHED (0: the original code)
 * @tgt_u:	target for threads in KLP_UNPATCHED (0: the original code)
 * @gen:	the transition generation the thread words are compared with
 * @transition:	non-zero while a transition touches this site
 * @target:	the transition's target state (KLP_PATCHED/KLP_UNPATCHED):
 *		threads in it take the shortest path, the others count down
 *		to a try to switch
 *
 * Without a transition (and without tracers) the site jumps straight to
 * @tgt_p.
 *
 * Return: 0 or -errno.
 */
int hook_set_dispatch(struct hook_ops *ops, uintptr_t ip, uintptr_t tgt_p,
		      uintptr_t tgt_u, uint32_t gen, int transition,
		      int target);

/**
 * hook_forget_range() - drop the sites of an unloaded object
 * @start:	start of the object's span
 * @end:	end
 *
 * Its code is gone: nothing is written; trampolines are recycled after a
 * grace period.
 */
void hook_forget_range(uintptr_t start, uintptr_t end);

/**
 * hook_stats() - counters for leak checks and tests
 * @sites:	out: sites known
 * @armed:	out: sites armed
 * @tramps:	out: trampolines allocated
 */
void hook_stats(long *sites, long *armed, long *tramps);

#endif
