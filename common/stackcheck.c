// SPDX-License-Identifier: MIT
/*
 * stackcheck.c - klp_check_stack(): a thread may switch when none of the
 * functions it could return into (nor its current PC) is one whose active
 * version the transition replaces.
 */
#include <stdlib.h>

#include "stackcheck.h"

static int range_cmp(const void *a, const void *b)
{
	const struct stackcheck_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void stackcheck_sort(struct stackcheck_range *r, size_t n)
{
	if (n > 1)
		qsort(r, n, sizeof(*r), range_cmp);
}

/**
 * stackcheck_count_le() - how many ranges start at or below an address
 * @r:		ranges sorted by start
 * @nr:		how many
 * @addr:	the address
 *
 * Return: the index of the first range that starts above @addr.
 */
size_t stackcheck_count_le(const struct stackcheck_range *r, size_t nr,
			   uintptr_t addr)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static long find(uintptr_t pc, const struct stackcheck_range *r, size_t nr)
{
	/* Functions do not nest; ranges only repeat (several funcs with the
	 * same address). Check the ranges with the greatest start <= pc. */
	size_t lo = stackcheck_count_le(r, nr, pc);

	for (size_t i = lo; i-- > 0;) {
		if (pc >= r[i].start && pc < r[i].end)
			return (long)i;
		if (r[i].start != r[lo - 1].start)
			break;
	}
	return -1;
}

long stackcheck_pcs(const uintptr_t *pcs, size_t npc,
		    const struct stackcheck_range *r, size_t nr)
{
	for (size_t i = 0; i < npc; i++) {
		long hit = find(pcs[i], r, nr);

		if (hit >= 0)
			return hit;
	}
	return -1;
}
