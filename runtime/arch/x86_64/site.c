// SPDX-License-Identifier: MIT
/*
 * site.c - site kinds and their arming protocols (x86-64).
 *
 * Only single-byte stores are atomic when code is written through
 * /proc/self/mem (the kernel copies with memcpy), and a thread may be
 * stopped between any two instructions, including between two one-byte
 * nops that the compiler emitted. Every protocol below is therefore a
 * sequence of writes after each of which every byte a thread may execute
 * next is a valid instruction with the right effect; "sync" is
 * poke_sync_core() (membarrier SYNC_CORE: every thread serializes before it
 * fetches the next instruction; pairs with the other CPUs' instruction
 * fetch).
 *
 * SITE_PAD (-fpatchable-function-entry=16,14: 14 one-byte nops before the
 * symbol, 2 at the entry E, after endbr64 when present):
 *   arm:    [J..J+4] 90 90 90 90 90 -> e9 <rel32 to trampoline>  (first arm
 *           only; J = E - 9, never executed) ; sync
 *           [E+1]    90 -> f5 ; sync
 *           [E]      90 -> eb ; sync       now E: eb f5 = jmp J
 *   disarm: [E] eb -> 90 ; sync ; [E+1] f5 -> 90 ; sync
 *   The rel8 f5 (-11) is chosen because, executed on its own by a thread
 *   that was stopped between the two entry nops, f5 is CMC: it only flips
 *   the carry flag, which is dead at a function entry. The jmp at J stays
 *   written after disarm: a thread may still be on its way through it.
 *
 * SITE_NOP5 / SITE_FENTRY (one instruction: 0f 1f 44 00 00, e8 <rel32>,
 * ff 15 <disp32>): the kernel's text_poke_bp():
 *   [E] -> cc ; sync ; [E+1..] -> rest of "e9 <rel32>" (+ 90) ; sync ;
 *   [E] -> e9 ; sync, and the same back for disarm; a thread hitting the
 *   int3 meanwhile is emulated as executing the new instruction.
 *
 * SITE_NOPS (-fpatchable-function-entry=N,0: N >= 5 one-byte nops at E):
 *   a thread may be stopped at any of E+1..E+4, so those bytes must stay
 *   harmless one-byte instructions: the jmp's rel32 is made of bytes from
 *   {90 nop, 9e sahf, f5 cmc, f8 clc, f9 stc, fc cld} (flags only; DF is
 *   clear at entries by the ABI) by placing a 5-byte stub "e9 <rel32 to
 *   trampoline>" at the one address A that makes rel32 = A - (E + 5) so.
 *   arm:    [E+1..E+4] 90 90 90 90 -> rel32 (first arm only) ; sync
 *           [E] 90 -> e9 ; sync
 *   disarm: [E] e9 -> 90 ; sync    (E+1..E+4 keep the harmless bytes)
 *
 * SITE_PROLOGUE (no compiler site; DESIGN.md 4): the first instructions
 * at E (after endbr64), D >= 5 bytes, are relocated by x86reloc_plan()
 * into a copy inside the site's trampoline, ending in "e9 <rel32 to
 * E + D>"; the copy is the "original code" every unpatched thread runs.
 * Threads may be stopped between the displaced instructions, so:
 *   arm:    [E] o0 -> cc ; sync            (a thread meeting the cc goes
 *                                           to the trampoline)
 *           every thread whose PC is in (E, E + D) is moved to the same
 *           instruction in the copy (poke_text_bp_move(): a signal, whose
 *           handler rewrites the PC, to each thread that may be there)
 *           [E+1..E+4] o1..o4 -> rel32 ; sync
 *           [E] cc -> e9 ; sync            now E: e9 <rel32 to trampoline>
 *           (bytes E+5 .. E+D-1 keep the original code, unreachable)
 *   disarm: [E] e9 -> cc ; sync            (a thread meeting the cc goes
 *                                           to the copy)
 *           [E+1..E+4] rel32 -> o1..o4 ; sync ; [E] cc -> o0 ; sync
 *   No thread can be inside the jmp, so disarm moves no one; threads in
 *   the copy leave it by its jmp back to E + D, so the copy (like the
 *   trampoline) stays until the site is freed after a grace period.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "poke.h"
#include "site.h"
#include "x86insn.h"

static const uint8_t endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};
static const uint8_t nop5[5] = {0x0f, 0x1f, 0x44, 0x00, 0x00};
static const uint8_t harmless[6] = {0x90, 0x9e, 0xf5, 0xf8, 0xf9, 0xfc};

const char *site_reason_str(enum site_reason r)
{
	switch (r) {
	case SITE_OK:
		return "ok";
	case SITE_NO_RECORD:
		return "no patchable entry (build with "
		       "-fpatchable-function-entry=16,14)";
	case SITE_BYTES_CHANGED:
		return "entry bytes differ from the compiler's padding";
	case SITE_PAD_TOO_SHORT:
		return "padding too short for a jmp";
	case SITE_NO_MEMORY_NEAR:
		return "no free memory within +/-2 GB for a trampoline";
	case SITE_NO_SIZE:
		return "no compiler site, and the symbol has no size to scan "
		       "the function for a prologue site";
	case SITE_RELOC:
		return "no compiler site, and the prologue cannot be "
		       "relocated";
	case SITE_PARKED:
		return "a thread inside the prologue did not answer the "
		       "request to move";
	}
	return "unknown";
}

const char *site_kind_str(enum site_kind k)
{
	switch (k) {
	case SITE_NONE:
		return "none";
	case SITE_PAD:
		return "pad";
	case SITE_NOP5:
		return "nop";
	case SITE_FENTRY:
		return "fentry";
	case SITE_NOPS:
		return "nops";
	case SITE_PROLOGUE:
		return "prologue";
	}
	return "unknown";
}

static int all_nops(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0x90)
			return 0;
	return 1;
}

static int is_harmless(uint8_t b)
{
	return memchr(harmless, b, sizeof(harmless)) != NULL;
}

/* Is the instruction at @e a call of __fentry__ (-pg -mfentry)? */
static int is_fentry_call(const uint8_t *p, uintptr_t e)
{
	static uintptr_t fentry;
	uintptr_t tgt;
	int32_t d;

	if (!fentry)
		fentry = (uintptr_t)dlsym(RTLD_DEFAULT, "__fentry__");
	if (!fentry)
		return 0;
	if (p[0] == 0xff && p[1] == 0x15) { /* call *GOT(%rip) */
		memcpy(&d, p + 2, 4);
		return *(const uintptr_t *)(e + 6 + (intptr_t)d) == fentry;
	}
	if (p[0] != 0xe8)
		return 0;
	memcpy(&d, p + 1, 4);
	tgt = e + 5 + (intptr_t)d;
	if (tgt == fentry)
		return 1;
	/* through a PLT entry: [endbr64] [bnd] jmp *GOT(%rip) */
	const uint8_t *q = (const uint8_t *)tgt;

	if (!memcmp(q, endbr64, 4))
		q += 4;
	if (q[0] == 0xf2)
		q++;
	if (q[0] != 0xff || q[1] != 0x25)
		return 0;
	memcpy(&d, q + 2, 4);
	return *(const uintptr_t *)((uintptr_t)q + 6 + (intptr_t)d) == fentry;
}

const char *site_why(const struct site_info *si)
{
	return si->why[0] ? si->why : site_reason_str(si->reason);
}

/* The plan's refusal as si->why: "prologue: jump into prologue at +0x12". */
static void reloc_why(struct site_info *si)
{
	char buf[64];

	snprintf(si->why, sizeof(si->why),
		 "no compiler site, and the prologue cannot be relocated: %s",
		 x86reloc_reason_str(si->plan.reason, si->plan.reason_at, buf,
				     sizeof(buf)));
}

/*
 * A function without a compiler site: relocate its first instructions.
 * The copy's address is not known yet (site_relocate() plans again for
 * it): plan for a copy at the function itself, which is in range.
 */
static int decode_prologue(uintptr_t func, size_t size, struct site_info *out)
{
	int ret;

	if (!size) {
		out->reason = SITE_NO_SIZE;
		return -EOPNOTSUPP;
	}
	ret =
	    x86reloc_plan((const uint8_t *)func, size, func, func, &out->plan);
	if (ret) {
		out->reason = SITE_RELOC;
		reloc_why(out);
		return -EOPNOTSUPP;
	}
	out->kind = SITE_PROLOGUE;
	out->entry = func + out->plan.skip;
	out->len = 5;
	out->jmp_at = out->entry;
	out->orig = 0; /* the copy: site_relocate() */
	memcpy(out->old, (const void *)out->entry, 5);
	return 0;
}

int site_scan_more(struct site_info *si, uintptr_t code, size_t size)
{
	if (si->kind != SITE_PROLOGUE)
		return 0;
	if (!x86reloc_scan(&si->plan, si->func, (const uint8_t *)code, size,
			   code))
		return 0;
	si->kind = SITE_NONE;
	si->reason = SITE_RELOC;
	reloc_why(si);
	return -EOPNOTSUPP;
}

int site_relocate(struct site_info *si, uintptr_t copy)
{
	size_t displaced = si->plan.displaced;
	int ret;

	if (si->kind != SITE_PROLOGUE)
		return -EINVAL;
	/* The whole function was scanned by site_decode(): plan again for
	 * the copy's address over the displaced instructions only. */
	ret =
	    x86reloc_plan((const uint8_t *)si->func, si->plan.skip + displaced,
			  si->func, copy, &si->plan);
	if (ret || si->plan.displaced != displaced) {
		si->kind = SITE_NONE;
		si->reason = SITE_RELOC;
		reloc_why(si);
		return -EOPNOTSUPP;
	}
	si->orig = copy;
	return 0;
}

int site_decode(uintptr_t func, uintptr_t pfe, int mcount, size_t size,
		struct site_info *out)
{
	const uint8_t *f = (const uint8_t *)func;
	uintptr_t e = func;

	memset(out, 0, sizeof(*out));
	out->func = func;
	out->reason = SITE_NO_RECORD;
	if (!memcmp(f, endbr64, 4))
		e += 4;
	const uint8_t *p = (const uint8_t *)e;

	if (pfe && pfe < func) {
		/* The pad: the jmp goes at E + 2 - 11 (rel8 0xf5). */
		uintptr_t j = e - 9;

		int ours = all_nops((const uint8_t *)pfe, func - pfe) ||
			   (((const uint8_t *)j)[0] == 0xe9 && j >= pfe &&
			    all_nops((const uint8_t *)pfe, j - pfe) &&
			    all_nops((const uint8_t *)j + 5, func - j - 5));

		/* A record followed by code other than padding is another
		 * function's, unless it sits where 16,14 puts ours. */
		if (!ours && func - pfe != 14)
			return -EOPNOTSUPP; /* SITE_NO_RECORD */
		out->reason = SITE_BYTES_CHANGED;
		if (p[0] != 0x90 || (p[1] != 0x90 && p[1] != 0xf5))
			return -EOPNOTSUPP;
		if (j < pfe || j + 5 > func) {
			out->reason = SITE_PAD_TOO_SHORT;
			return -EOPNOTSUPP;
		}
		if (!ours)
			return -EOPNOTSUPP;
		out->kind = SITE_PAD;
		out->entry = e;
		out->len = 2;
		out->jmp_at = j;
		out->jmp_written = ((const uint8_t *)j)[0] == 0xe9;
		out->orig = e + 2;
	} else if (pfe == func && p[0] == 0x90 &&
		   ((all_nops(p, 5)) ||
		    (is_harmless(p[1]) && is_harmless(p[2]) &&
		     is_harmless(p[3]) && is_harmless(p[4])))) {
		out->kind = SITE_NOPS;
		out->entry = e;
		out->len = 5;
		out->orig = e + 5;
		out->jmp_written = !all_nops(p, 5);
		memcpy(out->rel, p + 1, 4);
	} else if (!memcmp(p, nop5, 5) && (mcount || pfe == func)) {
		out->kind = SITE_NOP5;
		out->entry = e;
		out->len = 5;
		out->orig = e + 5;
	} else if ((p[0] == 0xe8 || (p[0] == 0xff && p[1] == 0x15)) &&
		   (mcount || is_fentry_call(p, e))) {
		out->kind = SITE_FENTRY;
		out->entry = e;
		out->len = p[0] == 0xe8 ? 5 : 6;
		out->orig = e + out->len;
	} else if (!pfe && !mcount) {
		return decode_prologue(func, size, out);
	} else {
		return -EOPNOTSUPP;
	}
	memcpy(out->old, p, out->len);
	if (out->kind != SITE_NOPS && out->kind != SITE_PAD)
		out->jmp_at = e;
	out->reason = SITE_OK;
	return 0;
}

/*
 * Stub pages for SITE_NOPS: read+exec pages of ours where 5-byte stubs sit
 * at exact addresses; a byte map says which bytes are taken.
 */
struct stub_page {
	uintptr_t addr;
	uint8_t used[4096];
	struct stub_page *next;
};
static struct stub_page *stub_pages;

static int rel_cmp(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x > y ? -1
		     : x < y; /* nearest (largest, all are negative) first */
}

/* Find and reserve A with every byte of A - (E + 5) harmless. */
static uintptr_t stub_place(uintptr_t e, uint8_t rel[4])
{
	static int32_t cand[6 * 6 * 6 * 6];
	static int ncand;

	if (!ncand) {
		for (int a = 0; a < 6; a++)
			for (int b = 0; b < 6; b++)
				for (int c = 0; c < 6; c++)
					for (int d = 0; d < 6; d++) {
						uint8_t v[4] = {
						    harmless[a], harmless[b],
						    harmless[c], harmless[d]};
						memcpy(&cand[ncand++], v, 4);
					}
		qsort(cand, (size_t)ncand, sizeof(cand[0]), rel_cmp);
	}
	for (int i = 0; i < ncand; i++) {
		uintptr_t a = e + 5 + (uintptr_t)(intptr_t)cand[i];
		uintptr_t pg = a & ~4095UL;
		struct stub_page *sp;

		if ((a & 4095) > 4096 - 5 || a < 0x100000)
			continue;
		for (sp = stub_pages; sp; sp = sp->next)
			if (sp->addr == pg)
				break;
		if (!sp) {
			void *m = mmap((void *)pg, 4096, PROT_READ | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS |
					   MAP_FIXED_NOREPLACE,
				       -1, 0);

			if (m == MAP_FAILED)
				continue;
			if (m != (void *)pg) {
				munmap(m, 4096);
				continue;
			}
			sp = calloc(1, sizeof(*sp));
			if (!sp) {
				munmap(m, 4096);
				return 0;
			}
			sp->addr = pg;
			sp->next = stub_pages;
			stub_pages = sp;
		}
		if (memchr(sp->used + (a & 4095), 1, 5))
			continue;
		memset(sp->used + (a & 4095), 1, 5);
		memcpy(rel, &cand[i], 4);
		return a;
	}
	return 0;
}

int site_prepare(struct site_info *si)
{
	if (si->kind != SITE_NOPS)
		return 0;
	if (si->jmp_written) {
		/* armed before by this runtime: the stub is where rel says */
		int32_t r;

		memcpy(&r, si->rel, 4);
		si->jmp_at = si->entry + 5 + (uintptr_t)(intptr_t)r;
		return 0;
	}
	si->jmp_at = stub_place(si->entry, si->rel);
	if (!si->jmp_at) {
		si->reason = SITE_NO_MEMORY_NEAR;
		return -ENOSPC;
	}
	return 0;
}

uintptr_t site_jump_source(const struct site_info *si)
{
	return si->jmp_at;
}

/*
 * A persistent jump written by an earlier arming (of a site decoded again)
 * may lead to another trampoline: retarget it with the int3 protocol, as
 * threads may be executing it.
 */
static int retarget(struct site_info *si, uintptr_t tramp)
{
	uint8_t cur[5], jmp[5];
	struct x86insn in;
	int ret;

	memcpy(cur, (void *)si->jmp_at, 5);
	if (x86insn_decode(cur, 5, si->jmp_at, &in) || in.kind != X86_JMP ||
	    in.len != 5)
		return -EILSEQ;
	if (in.target == tramp)
		return 0;
	ret = x86insn_encode_jmp(si->jmp_at, tramp, jmp);
	if (ret)
		return ret;
	return poke_text_bp((void *)si->jmp_at, cur, jmp, 5);
}

/*
 * poke_move_fn of a prologue site: a thread stopped between displaced
 * instructions goes on at the same instruction of the copy. Runs in
 * signal context: x86reloc_map_pc() only reads the plan.
 */
static uintptr_t prologue_move(void *arg, uintptr_t pc)
{
	const struct site_info *si = arg;
	uint64_t to;

	if (x86reloc_map_pc(&si->plan, si->func, si->orig, pc, &to))
		return 0;
	return (uintptr_t)to;
}

int site_arm(struct site_info *si, uintptr_t tramp)
{
	uint8_t jmp[8], cur[16];
	int ret;

	if ((si->kind == SITE_PAD || si->kind == SITE_NOPS) &&
	    si->jmp_written) {
		ret = retarget(si, tramp);
		if (ret)
			return ret;
	}
	switch (si->kind) {
	case SITE_PAD:
		if (!si->jmp_written) {
			static const uint8_t nops[5] = {0x90, 0x90, 0x90, 0x90,
							0x90};

			ret = x86insn_encode_jmp(si->jmp_at, tramp, jmp);
			if (ret)
				return ret;
			ret = poke_text((void *)si->jmp_at, nops, jmp, 5);
			if (ret)
				return ret;
			si->jmp_written = 1;
			poke_sync_core();
		}
		if (((uint8_t *)si->entry)[1] == 0x90) {
			ret = poke_text((void *)(si->entry + 1), "\x90", "\xf5",
					1);
			if (ret)
				return ret;
			poke_sync_core();
		}
		ret = poke_text((void *)si->entry, "\x90", "\xeb", 1);
		if (ret)
			return ret;
		poke_sync_core();
		return 0;
	case SITE_NOPS:
		if (!si->jmp_written) {
			ret = x86insn_encode_jmp(si->jmp_at, tramp, jmp);
			if (ret)
				return ret;
			memcpy(cur, (void *)si->jmp_at, 5);
			ret = poke_text((void *)si->jmp_at, cur, jmp, 5);
			if (ret)
				return ret;
			ret = poke_text((void *)(si->entry + 1),
					"\x90\x90\x90\x90", si->rel, 4);
			if (ret)
				return ret;
			si->jmp_written = 1;
			poke_sync_core();
		}
		ret = poke_text((void *)si->entry, "\x90", "\xe9", 1);
		if (ret)
			return ret;
		poke_sync_core();
		return 0;
	case SITE_NOP5:
	case SITE_FENTRY:
		ret = x86insn_encode_jmp(si->entry, tramp, jmp);
		if (ret)
			return ret;
		if (si->len == 6)
			jmp[5] = 0x90;
		return poke_text_bp((void *)si->entry, si->old, jmp, si->len);
	case SITE_PROLOGUE:
		ret = x86insn_encode_jmp(si->entry, tramp, jmp);
		if (ret)
			return ret;
		ret = poke_text_bp_move((void *)si->entry, si->old, jmp, 5,
					tramp, si->entry + si->plan.displaced,
					prologue_move, si);
		if (ret == -ETIMEDOUT) {
			si->reason = SITE_PARKED;
			si->why[0] = 0;
		}
		return ret;
	case SITE_NONE:
		break;
	}
	return -EINVAL;
}

int site_disarm(struct site_info *si)
{
	uint8_t cur[16];
	int ret;

	switch (si->kind) {
	case SITE_PAD:
		ret = poke_text((void *)si->entry, "\xeb", "\x90", 1);
		if (ret)
			return ret;
		poke_sync_core();
		ret = poke_text((void *)(si->entry + 1), "\xf5", "\x90", 1);
		poke_sync_core();
		return ret;
	case SITE_NOPS:
		ret = poke_text((void *)si->entry, "\xe9", "\x90", 1);
		poke_sync_core();
		return ret;
	case SITE_NOP5:
	case SITE_FENTRY:
		memcpy(cur, (void *)si->entry, si->len);
		return poke_text_bp((void *)si->entry, cur, si->old, si->len);
	case SITE_PROLOGUE:
		/* A thread meeting the transient cc runs the original code:
		 * the copy. */
		memcpy(cur, (void *)si->entry, 5);
		return poke_text_bp_move((void *)si->entry, cur, si->old, 5,
					 si->orig, 0, NULL, NULL);
	case SITE_NONE:
		break;
	}
	return -EINVAL;
}
