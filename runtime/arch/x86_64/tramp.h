/* SPDX-License-Identifier: MIT */
/*
 * tramp - per-site trampolines (x86-64). Prefix: tramp_.
 *
 * A site's jump leads to its trampoline, whose first instruction jumps
 * through the site's mode word. Every later change of what a site does
 * (direct jump to new_func, dispatch by thread state, calling tracer ops)
 * is an aligned 8-byte store to that word or to the targets, never a code
 * write: only the first arming of a site writes code in the target.
 */
#ifndef UKLP_TRAMP_H
#define UKLP_TRAMP_H

#include <stdint.h>

/* The per-site data the trampoline reads (RIP-relative, same region). */
struct tramp_data {
	uint64_t mode; /* where the entry jumps: a T_* label or a target */
	/*
	 * Where a thread goes, indexed by the low 3 bits of its word
	 * (generation parity, set bit, state): the current generation's two
	 * slots hold the targets for KLP_UNPATCHED and KLP_PATCHED; the other
	 * six the slow path. The index and the load of the target are one
	 * instruction, so a thread stopped anywhere in the dispatch can never
	 * combine an old decision with a new target (see tramp.c).
	 */
	uint64_t slots[8];
	uint64_t site;	    /* first argument of the C calls */
	uint64_t c_slow;    /* uint64_t c_slow(site, struct tramp_regs *) */
	uint64_t c_ops;	    /* void c_ops(site, struct tramp_regs *) */
	uint64_t after_ops; /* where T_CALLOPS continues */
	uint64_t orig;	    /* the original code's continuation */
};

struct tramp {
	uint8_t *code;		 /* executable, read-only */
	struct tramp_data *data; /* read-write */
	uint64_t l_callops;	 /* labels inside @code */
	uint64_t l_dispatch;
	uint64_t l_slow;
	uint8_t *copy; /* TRAMP_COPY_MAX bytes for a prologue's relocated
			* instructions (see tramp_set_copy()) */
	struct tramp *next_free;
};

/**
 * tramp_init() - learn the CPU's extended state size (xsave) once
 *
 * Return: 0 or -errno.
 */
int tramp_init(void);

/**
 * tramp_alloc() - a trampoline within +/-2 GB of @near
 * @near:	the address that will jump to it with a rel32
 * @site:	value passed as first argument to the C calls
 * @c_slow:	slow-path function (thread state unknown or due a switch try)
 * @c_ops:	tracer-ops caller
 * @orig:	the original code's continuation
 *
 * The code is written once through the text-poke path; the data starts
 * with mode = @orig and every slot the slow path.
 *
 * Return: the trampoline, or NULL (errno set).
 */
struct tramp *tramp_alloc(uintptr_t near, uint64_t site, uint64_t c_slow,
			  uint64_t c_ops, uint64_t orig);

/* Room for a prologue site's copy (x86reloc's X86RELOC_COPY_MAX). */
#define TRAMP_COPY_MAX 64

/**
 * tramp_set_copy() - place a prologue site's relocated instructions
 * @t:		a trampoline whose site is not armed yet
 * @code:	the copy (planned for t->copy), ending in its jmp back
 * @len:	its length, at most TRAMP_COPY_MAX
 *
 * Writes @code at t->copy and makes it the original code's continuation
 * (data->orig and data->mode).
 *
 * Return: 0 or -errno.
 */
int tramp_set_copy(struct tramp *t, const uint8_t *code, size_t len);

/**
 * tramp_free() - give back a trampoline no thread can enter any more
 * @t:	the trampoline
 *
 * It is recycled only after every thread passed a quiescent point
 * (tramp_reclaim()).
 */
void tramp_free(struct tramp *t);

/**
 * tramp_reclaim() - recycle freed trampolines whose grace period ended
 */
void tramp_reclaim(void);

/**
 * tramp_count() - trampolines in use and regions mapped, for leak checks
 * @regions:	out: mapped regions
 *
 * Return: trampolines allocated and not yet recycled.
 */
long tramp_count(long *regions);

#endif
