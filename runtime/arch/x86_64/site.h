/* SPDX-License-Identifier: MIT */
/*
 * site - where a function's entry can be redirected, and the code writes
 * that arm and disarm it (x86-64). Prefix: site_.
 */
#ifndef UKLP_SITE_H
#define UKLP_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "x86reloc.h"

enum site_kind {
	SITE_NONE = 0,
	SITE_PAD,      /* -fpatchable-function-entry=16,14 */
	SITE_NOP5,     /* one 5-byte nop at entry (-mnop-mcount, converted) */
	SITE_FENTRY,   /* call __fentry__ (-pg -mfentry) */
	SITE_NOPS,     /* -fpatchable-function-entry=N (N >= 5 one-byte nops) */
	SITE_PROLOGUE, /* no compiler site: the first instructions relocated */
};

/* Why a function has no usable site: printed by the tool. */
enum site_reason {
	SITE_OK = 0,
	SITE_NO_RECORD,	    /* no compiler record and no known entry form */
	SITE_BYTES_CHANGED, /* recorded, but the bytes are not what was recorded
			     */
	SITE_PAD_TOO_SHORT, /* padding before the entry cannot hold a jmp */
	SITE_NO_MEMORY_NEAR, /* no free address range within +/-2 GB */
	SITE_NO_SIZE,	     /* no compiler site, and no symbol size: the
			      * function cannot be scanned for a prologue
			      * site */
	SITE_RELOC,	     /* no compiler site, and the prologue cannot be
			      * relocated: site_info.why says why */
	SITE_PARKED,	     /* a thread parked in the displaced bytes did
			      * not answer the request to move */
};

struct site_info {
	enum site_kind kind;
	enum site_reason reason;
	uintptr_t func;	  /* the function's address */
	uintptr_t entry;  /* the patched instruction (after endbr64) */
	size_t len;	  /* its length */
	uintptr_t jmp_at; /* where the jmp rel32 to the trampoline goes */
	uintptr_t orig;	  /* the original code's continuation */
	uint8_t old[16];  /* bytes at @entry before arming */
	uint8_t rel[4];	  /* SITE_NOPS: the rel32 written (harmless bytes) */
	int jmp_written;  /* SITE_PAD/NOPS: the persistent jump is in place */
	/* SITE_PROLOGUE: how the displaced instructions are relocated; the
	 * copy (at @orig once site_relocate() placed it) */
	struct x86reloc_plan plan;
	char why[80]; /* the reason as text, with details */
};

/**
 * site_reason_str() - the reason as text
 * @r:	reason
 *
 * Return: a constant string.
 */
const char *site_reason_str(enum site_reason r);

/**
 * site_kind_str() - the kind as text
 * @k:	kind
 *
 * Return: a constant string.
 */
const char *site_kind_str(enum site_kind k);

/**
 * site_decode() - what kind of site a function has
 * @func:	run-time address of the function
 * @pfe:	is @func - 14 .. @func recorded in __patchable_function_entries
 *		(run-time address of the record that covers @func, or 0)
 * @mcount:	non-zero when @func is recorded in __mcount_loc
 * @size:	the function's size (st_size), 0 if unknown: a function with
 *		no compiler site and a known size gets a prologue site if its
 *		first instructions can be relocated (x86reloc_plan())
 * @out:	result; kind SITE_NONE with a reason (and out->why) when
 *		unusable
 *
 * Return: 0 when usable, -EOPNOTSUPP otherwise.
 */
int site_decode(uintptr_t func, uintptr_t pfe, int mcount, size_t size,
		struct site_info *out);

/**
 * site_scan_more() - refuse a prologue site that other code jumps into
 * @si:		a SITE_PROLOGUE site
 * @code:	run-time address of other code of the function (its
 *		"f.cold" or "f.part.N" fragment)
 * @size:	its size
 *
 * Return: 0; -EOPNOTSUPP with si->kind SITE_NONE and si->why set when
 * @code branches into the displaced bytes.
 */
int site_scan_more(struct site_info *si, uintptr_t code, size_t size);

/**
 * site_relocate() - plan the prologue copy for its final address
 * @si:		a SITE_PROLOGUE site
 * @copy:	where the copy will run (inside the site's trampoline)
 *
 * On success si->plan.copy (si->plan.copy_len bytes) is the code to place
 * at @copy, and si->orig is @copy.
 *
 * Return: 0, or -EOPNOTSUPP (si->reason SITE_RELOC, si->why set).
 */
int site_relocate(struct site_info *si, uintptr_t copy);

/**
 * site_why() - the reason a site is unusable, with its details
 * @si:	a decoded site
 *
 * Return: si->why when set, else site_reason_str(si->reason).
 */
const char *site_why(const struct site_info *si);

/**
 * site_prepare() - reserve what arming will need (SITE_NOPS: its stub)
 * @si:	decoded site
 *
 * Return: 0, or -ENOSPC (si->reason set).
 */
int site_prepare(struct site_info *si);

/**
 * site_jump_source() - address the trampoline must be within rel32 of
 * @si:	decoded site
 *
 * Return: the address.
 */
uintptr_t site_jump_source(const struct site_info *si);

/**
 * site_arm() - redirect the function's entry to @tramp
 * @si:		decoded site
 * @tramp:	trampoline entry (within rel32 of site_jump_source())
 *
 * Return: 0, or -errno with the code as it was.
 */
int site_arm(struct site_info *si, uintptr_t tramp);

/**
 * site_disarm() - let the function's entry run its own code again
 * @si:	an armed site
 *
 * Return: 0 or -errno.
 */
int site_disarm(struct site_info *si);

#endif
