/* SPDX-License-Identifier: MIT */
/*
 * site - where a function's entry can be redirected, and the code writes
 * that arm and disarm it (x86-64). Prefix: site_.
 */
#ifndef UKLP_SITE_H
#define UKLP_SITE_H

#include <stddef.h>
#include <stdint.h>

enum site_kind {
	SITE_NONE = 0,
	SITE_PAD,    /* -fpatchable-function-entry=16,14 */
	SITE_NOP5,   /* one 5-byte nop at entry (-mnop-mcount, converted) */
	SITE_FENTRY, /* call __fentry__ (-pg -mfentry) */
	SITE_NOPS,   /* -fpatchable-function-entry=N (N >= 5 one-byte nops) */
};

/* Why a function has no usable site: printed by the tool. */
enum site_reason {
	SITE_OK = 0,
	SITE_NO_RECORD,	    /* no compiler record and no known entry form */
	SITE_BYTES_CHANGED, /* recorded, but the bytes are not what was recorded
			     */
	SITE_PAD_TOO_SHORT, /* padding before the entry cannot hold a jmp */
	SITE_NO_MEMORY_NEAR, /* no free address range within +/-2 GB */
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
 * @out:	result; kind SITE_NONE with a reason when unusable
 *
 * Return: 0 when usable, -EOPNOTSUPP otherwise.
 */
int site_decode(uintptr_t func, uintptr_t pfe, int mcount,
		struct site_info *out);

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
