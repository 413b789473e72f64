/* SPDX-License-Identifier: MIT */
/*
 * stackcheck - the kernel's klp_check_stack rule over an unwound stack.
 * Shared by the runtime (a thread checking itself) and the tool (checking a
 * thread through ptrace). Prefix: stackcheck_.
 */
#ifndef UKLP_STACKCHECK_H
#define UKLP_STACKCHECK_H

#include <stddef.h>
#include <stdint.h>

/* A forbidden address range [start, end) and the function it belongs to. */
struct stackcheck_range {
	uintptr_t start;
	uintptr_t end;
	const char *name;
};

/**
 * stackcheck_sort() - sort ranges by start so stackcheck_pcs() can search
 * @r:	ranges
 * @n:	count
 */
void stackcheck_sort(struct stackcheck_range *r, size_t n);

/**
 * stackcheck_count_le() - how many ranges start at or below an address
 * @r:		ranges sorted by start
 * @nr:		how many
 * @addr:	the address
 *
 * Return: the index of the first range that starts above @addr.
 */
size_t stackcheck_count_le(const struct stackcheck_range *r, size_t nr,
			   uintptr_t addr);

/**
 * stackcheck_pcs() - is any PC of a stack inside a forbidden range
 * @pcs:	the program counters, innermost first (frame 0 is the current
 * PC)
 * @npc:	how many
 * @r:		ranges sorted by stackcheck_sort()
 * @nr:		how many
 *
 * Return: the index of the first range hit (the function that blocks the
 * thread), or -1 when the stack is clean.
 */
long stackcheck_pcs(const uintptr_t *pcs, size_t npc,
		    const struct stackcheck_range *r, size_t nr);

#endif
