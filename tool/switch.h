/* SPDX-License-Identifier: MIT */
/*
 * switch - the tool's share of the consistency model (DESIGN.md 5): it
 * switches the threads that do not switch themselves, each in a stop of
 * its own: stop it, unwind it through ptrace, apply the klp_check_stack
 * rule, write its patch-state word, let it go (a few threads may be on
 * their way to a stop at once: see switch.c). Prefix: switch_.
 */
#ifndef UKLP_TOOL_SWITCH_H
#define UKLP_TOOL_SWITCH_H

#include <stdint.h>

#include "proc.h"
#include "uklp_abi.h"

/* What one pass over the threads found. */
struct switch_report {
	int done;	       /* no transition in progress any more */
	size_t threads;	       /* threads of the target */
	size_t switched;       /* in the target state after this pass */
	pid_t blocker;	       /* a thread that could not switch, or 0 */
	char blocker_func[64]; /* the function it is in, or a reason */
	uint64_t max_pause_ns; /* longest time one thread was stopped */
};

/**
 * switch_read_status() - read uklp_status from the target
 * @p:		the process view (the runtime must be loaded)
 * @st:		out
 * @st_addr:	out (optional): its address in the target
 *
 * Return: 0, -ENOENT (no runtime), -EPROTO (wrong magic or version).
 */
int switch_read_status(struct proc *p, struct uklp_status *st,
		       uintptr_t *st_addr);

/**
 * switch_pass() - one pass: try to switch every thread not yet switched
 * @p:		the process view
 * @r:		out: what it found
 * @pauses_ns:	optional: each stop's duration is appended here
 * @npauses:	in/out: count (capacity is the caller's business: realloc'ed)
 *
 * Return: 0 or -errno.
 */
int switch_pass(struct proc *p, struct switch_report *r, uint64_t **pauses_ns,
		size_t *npauses);

/**
 * switch_wait() - passes until the transition is done or @timeout_ms
 * @p:		the process view
 * @timeout_ms:	negative: forever
 * @progress:	print "threads switched N/M, blocked by TID in FUNC" lines on
 *		stderr when the wait lasts over a second
 * @r:		out: the last pass's report
 *
 * Return: 0 when done, -ETIMEDOUT, or -errno.
 */
void switch_help_readers(struct proc *p);

int switch_wait(struct proc *p, int timeout_ms, int progress,
		struct switch_report *r);

#endif
