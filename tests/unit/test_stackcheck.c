// SPDX-License-Identifier: MIT
/*
 * test_stackcheck - the klp_check_stack rule of common/stackcheck.c:
 * stackcheck_sort() + stackcheck_pcs() on hand-made stacks and ranges, and
 * on 1000 random ranges against a linear scan.
 *
 * Prints one line per check; exits 0 when all pass, 1 otherwise.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stackcheck.h"
#include "check.h"

/* The name of the range @idx points to, or "-" for -1. */
static const char *hit_name(long idx, const struct stackcheck_range *r,
			    size_t nr)
{
	if (idx < 0)
		return "-";
	if ((size_t)idx >= nr)
		return "(out of bounds)";
	return r[idx].name;
}

static bool is_hit(long idx, const struct stackcheck_range *r, size_t nr,
		   const char *name)
{
	return idx >= 0 && (size_t)idx < nr && !strcmp(r[idx].name, name);
}

/* Hand-made ranges, given out of order: stackcheck_sort() orders them. */
static void test_basic(void)
{
	struct stackcheck_range r[] = {
	    {0x5000, 0x5100, "e"}, {0x1000, 0x1040, "a"}, {0x3000, 0x3200, "c"},
	    {0x2000, 0x2010, "b"}, {0x4000, 0x4001, "d"},
	};
	size_t nr = sizeof(r) / sizeof(r[0]);
	bool sorted = true;
	uintptr_t pcs[64];
	long idx;

	stackcheck_sort(r, nr);
	for (size_t i = 1; i < nr; i++)
		sorted &= r[i - 1].start <= r[i].start;
	check(sorted && !strcmp(r[0].name, "a") && !strcmp(r[4].name, "e"),
	      "sort: 5 ranges ordered by start (%s..%s)", r[0].name,
	      r[nr - 1].name);

	/* frame 0 is the current PC: it counts */
	pcs[0] = 0x3100;
	pcs[1] = 0x9000;
	pcs[2] = 0x9100;
	idx = stackcheck_pcs(pcs, 3, r, nr);
	check(is_hit(idx, r, nr, "c"), "current PC (frame 0) inside c: hit %s",
	      hit_name(idx, r, nr));

	/* deep in the stack */
	for (size_t i = 0; i < 64; i++)
		pcs[i] = 0x8000 + i * 16;
	pcs[57] = 0x2008;
	idx = stackcheck_pcs(pcs, 64, r, nr);
	check(is_hit(idx, r, nr, "b"), "frame 57 of 64 inside b: hit %s",
	      hit_name(idx, r, nr));
	idx = stackcheck_pcs(pcs, 57, r, nr);
	check(idx == -1, "the same stack cut before frame 57: %s",
	      hit_name(idx, r, nr));

	/* no hit: between, below and above every range */
	pcs[0] = 0x1040;
	pcs[1] = 0x0fff;
	pcs[2] = 0x2fff;
	pcs[3] = 0x5100;
	pcs[4] = 0xffffffff;
	pcs[5] = 0;
	pcs[6] = UINTPTR_MAX;
	idx = stackcheck_pcs(pcs, 7, r, nr);
	check(idx == -1, "7 PCs next to but outside every range: %ld", idx);

	/* boundaries: start inclusive, end exclusive */
	pcs[0] = 0x1000;
	idx = stackcheck_pcs(pcs, 1, r, nr);
	check(is_hit(idx, r, nr, "a"), "PC == start of a: hit %s",
	      hit_name(idx, r, nr));
	pcs[0] = 0x103f;
	idx = stackcheck_pcs(pcs, 1, r, nr);
	check(is_hit(idx, r, nr, "a"), "PC == end of a - 1: hit %s",
	      hit_name(idx, r, nr));
	pcs[0] = 0x1040;
	idx = stackcheck_pcs(pcs, 1, r, nr);
	check(idx == -1, "PC == end of a: %s (end is exclusive)",
	      hit_name(idx, r, nr));
	pcs[0] = 0x0fff;
	idx = stackcheck_pcs(pcs, 1, r, nr);
	check(idx == -1, "PC == start of a - 1: %s", hit_name(idx, r, nr));
	pcs[0] = 0x4000;
	pcs[1] = 0x4001;
	idx = stackcheck_pcs(pcs + 1, 1, r, nr);
	check(idx == -1, "one-byte range d: its end is outside (%s)",
	      hit_name(idx, r, nr));
	idx = stackcheck_pcs(pcs, 2, r, nr);
	check(is_hit(idx, r, nr, "d"),
	      "one-byte range d: its start is "
	      "inside (%s)",
	      hit_name(idx, r, nr));
	pcs[0] = 0x50ff;
	idx = stackcheck_pcs(pcs, 1, r, nr);
	check(is_hit(idx, r, nr, "e"), "last range, its last byte: hit %s",
	      hit_name(idx, r, nr));

	/* the innermost hit wins */
	pcs[0] = 0x9000;
	pcs[1] = 0x5050;
	pcs[2] = 0x1010;
	idx = stackcheck_pcs(pcs, 3, r, nr);
	check(is_hit(idx, r, nr, "e"),
	      "frames in e (frame 1) and a (frame 2): the innermost, %s",
	      hit_name(idx, r, nr));

	/* empty stack, no ranges */
	idx = stackcheck_pcs(pcs, 0, r, nr);
	check(idx == -1, "empty stack: %ld", idx);
	idx = stackcheck_pcs(pcs, 3, r, 0);
	check(idx == -1, "no ranges: %ld", idx);
}

/* Several functions at one address (aliases), with equal or other sizes. */
static void test_duplicates(void)
{
	struct stackcheck_range r[] = {
	    {0x7000, 0x7100, "x"},	{0x6000, 0x6080, "alias1"},
	    {0x6000, 0x6080, "alias2"}, {0x1000, 0x1100, "w"},
	    {0x8000, 0x8010, "short"},	{0x8000, 0x8400, "long"},
	    {0x8000, 0x8010, "short2"}, {0x9000, 0x9400, "long9"},
	    {0x9000, 0x9010, "s9a"},	{0x9000, 0x9010, "s9b"},
	    {0x9000, 0x9008, "s9c"},
	};
	size_t nr = sizeof(r) / sizeof(r[0]);
	uintptr_t pc;
	long idx;

	stackcheck_sort(r, nr);
	pc = 0x6040;
	idx = stackcheck_pcs(&pc, 1, r, nr);
	check(is_hit(idx, r, nr, "alias1") || is_hit(idx, r, nr, "alias2"),
	      "two functions at the same address: hit %s",
	      hit_name(idx, r, nr));
	pc = 0x6000;
	idx = stackcheck_pcs(&pc, 1, r, nr);
	check(is_hit(idx, r, nr, "alias1") || is_hit(idx, r, nr, "alias2"),
	      "their common start: hit %s", hit_name(idx, r, nr));
	pc = 0x6080;
	idx = stackcheck_pcs(&pc, 1, r, nr);
	check(idx == -1, "their common end: %s", hit_name(idx, r, nr));

	/*
	 * Same start, other sizes: a PC past the short ones is inside the
	 * long one only, whatever order the sort left them in.
	 */
	pc = 0x8200;
	idx = stackcheck_pcs(&pc, 1, r, nr);
	check(is_hit(idx, r, nr, "long"),
	      "same start, PC past the short aliases: hit %s",
	      hit_name(idx, r, nr));
	pc = 0x8008;
	idx = stackcheck_pcs(&pc, 1, r, nr);
	check(idx >= 0 && (size_t)idx < nr && r[idx].start == 0x8000,
	      "same start, PC inside all three: hit %s", hit_name(idx, r, nr));
	pc = 0x8400;
	idx = stackcheck_pcs(&pc, 1, r, nr);
	check(idx == -1, "same start, end of the long one: %s",
	      hit_name(idx, r, nr));
	pc = 0x9100;
	idx = stackcheck_pcs(&pc, 1, r, nr);
	check(is_hit(idx, r, nr, "long9"),
	      "four at one start, the long one given first: hit %s",
	      hit_name(idx, r, nr));
}

/* xorshift64*: reproducible without libc's rand() state. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* The reference: any range containing @pc, by linear scan. */
static bool covered(uintptr_t pc, const struct stackcheck_range *r, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (pc >= r[i].start && pc < r[i].end)
			return true;
	return false;
}

#define NRAND 1000
#define NDUP  50

static void test_random(void)
{
	static struct stackcheck_range r[NRAND + NDUP];
	static char names[NRAND + NDUP][16];
	uintptr_t at = 0x400000, pcs[32];
	size_t nr = 0, wrong = 0, hits = 0, misses = 0, stacks_wrong = 0;
	size_t stack_hits = 0;
	bool sorted = true;

	/* Non-overlapping functions with gaps, some aliased. */
	for (size_t i = 0; i < NRAND; i++) {
		at += rnd() % 64; /* gap, possibly none */
		r[nr].start = at;
		r[nr].end = at + 1 + rnd() % 512;
		snprintf(names[nr], sizeof(names[nr]), "f%zu", i);
		r[nr].name = names[nr];
		at = r[nr].end;
		nr++;
		if (i % (NRAND / NDUP) == 7) {
			r[nr] = r[nr - 1];
			snprintf(names[nr], sizeof(names[nr]), "f%zu.alias", i);
			r[nr].name = names[nr];
			nr++;
		}
	}
	/* Shuffle (Fisher-Yates), then sort. */
	for (size_t i = nr - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		struct stackcheck_range t = r[i];

		r[i] = r[j];
		r[j] = t;
	}
	stackcheck_sort(r, nr);
	for (size_t i = 1; i < nr; i++)
		sorted &= r[i - 1].start <= r[i].start;
	check(sorted, "random: %zu ranges (%d aliased) shuffled and sorted", nr,
	      NDUP);

	/* Every start, last byte, end and one-before-start. */
	for (size_t i = 0; i < nr; i++) {
		uintptr_t probe[4] = {r[i].start, r[i].end - 1, r[i].end,
				      r[i].start - 1};

		for (int k = 0; k < 4; k++) {
			long idx = stackcheck_pcs(&probe[k], 1, r, nr);
			bool ref = covered(probe[k], r, nr);

			if (ref != (idx >= 0) ||
			    (idx >= 0 && (probe[k] < r[idx].start ||
					  probe[k] >= r[idx].end)))
				wrong++;
		}
	}
	check(wrong == 0,
	      "random: starts, last bytes, ends and bytes before starts of "
	      "all %zu ranges agree with a linear scan (%zu wrong)",
	      nr, wrong);

	/* Random PCs over the whole span and a bit beyond. */
	wrong = 0;
	for (int n = 0; n < 100000; n++) {
		uintptr_t pc = 0x3ff000 + rnd() % (at - 0x3ff000 + 0x1000);
		long idx = stackcheck_pcs(&pc, 1, r, nr);
		bool ref = covered(pc, r, nr);

		if (ref)
			hits++;
		else
			misses++;
		if (ref != (idx >= 0) ||
		    (idx >= 0 && (pc < r[idx].start || pc >= r[idx].end)))
			wrong++;
	}
	check(wrong == 0 && hits > 0 && misses > 0,
	      "random: 100000 PCs (%zu inside, %zu outside) agree with a "
	      "linear scan (%zu wrong)",
	      hits, misses, wrong);

	/* Stacks of 32 PCs: the innermost covered PC decides. */
	for (int n = 0; n < 5000; n++) {
		long want = -1, idx;
		size_t first = 32;

		for (size_t k = 0; k < 32; k++) {
			pcs[k] = 0x3ff000 + rnd() % (at - 0x3ff000 + 0x1000);
			/* mostly misses: push hits deeper */
			if (rnd() % 64)
				pcs[k] = at + 0x10000 + k;
		}
		for (size_t k = 0; k < 32 && first == 32; k++)
			if (covered(pcs[k], r, nr))
				first = k;
		idx = stackcheck_pcs(pcs, 32, r, nr);
		if (first < 32) {
			stack_hits++;
			want = 0;
		}
		if ((want < 0) != (idx < 0) ||
		    (idx >= 0 &&
		     (pcs[first] < r[idx].start || pcs[first] >= r[idx].end)))
			stacks_wrong++;
	}
	check(stacks_wrong == 0 && stack_hits > 0 && stack_hits < 5000,
	      "random: 5000 stacks of 32 PCs (%zu with a hit): the range of "
	      "the innermost hit every time (%zu wrong)",
	      stack_hits, stacks_wrong);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_basic();
	test_duplicates();
	test_random();
	printf("%d nchecks, %d failed\n", nchecks, nfailed);
	return nfailed ? 1 : 0;
}
