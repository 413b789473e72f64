/* SPDX-License-Identifier: MIT */
/*
 * x86insn - a tiny x86-64 decoder and encoder for the few instructions the
 * hook layer writes or finds at function entries (shared by the runtime and
 * the tool). Prefix: x86insn_.
 *
 * It is not a general decoder: it answers "is this one of the instructions
 * we know, and how long is it, and where does it go", which is what the int3
 * handler needs to emulate an instruction being installed (runtime/arch/
 * x86_64/poke.c) and what site discovery needs to recognise a patchable
 * entry. Recognised (every byte sequence in hex):
 *
 * X86_NOP           90                        nop
 *                   66 [66..] 90              xchg %ax,%ax
 *                   [66|2e..] [REX] 0f 1f /0  nopw/nopl, any ModRM, SIB and
 *                                             displacement, e.g.
 *                                             0f 1f 44 00 00,
 *                                             66 2e 0f 1f 84 00 00 00 00 00
 * X86_ENDBR         f3 0f 1e fa               endbr64
 * X86_INT3          cc                        int3
 * X86_JMP           eb rel8                   jmp rel8
 *                   e9 rel32                  jmp rel32
 * X86_CALL          e8 rel32                  call rel32
 * X86_JMP_IND_RIP   ff 25 disp32              jmp *disp32(%rip)
 * X86_CALL_IND_RIP  ff 15 disp32              call *disp32(%rip)
 * X86_RET           c3                        ret
 *
 * Prefixes are only accepted where listed (66/2e/REX on the long NOP);
 * anything else, e.g. "notrack jmp" (3e ff 25) or "bnd jmp" (f2 e9), is
 * not recognised.
 */
#ifndef UKLP_X86INSN_H
#define UKLP_X86INSN_H

#include <stddef.h>
#include <stdint.h>

/* The longest x86 instruction, in bytes. */
#define X86INSN_MAX_LEN 15

/* Byte lengths of the encodings x86insn_encode_*() produce. */
#define X86INSN_JMP8_LEN  2
#define X86INSN_JMP32_LEN 5
#define X86INSN_CALL_LEN  5

/* The int3 opcode. */
#define X86INSN_INT3 0xcc

enum x86insn_kind {
	X86_NOP,
	X86_ENDBR,
	X86_INT3,
	X86_JMP,	  /* eb rel8, e9 rel32 */
	X86_CALL,	  /* e8 rel32 */
	X86_JMP_IND_RIP,  /* ff 25 disp32 */
	X86_CALL_IND_RIP, /* ff 15 disp32 */
	X86_RET,
};

/**
 * struct x86insn - one decoded instruction
 * @kind:	what it is
 * @len:	its length in bytes, 1..X86INSN_MAX_LEN
 * @target:	X86_JMP, X86_CALL: the absolute branch target;
 *		X86_JMP_IND_RIP, X86_CALL_IND_RIP: the absolute address of the
 *		64-bit memory operand that holds the target;
 *		0 for the other kinds
 *
 * Both addresses are computed from the @addr given to x86insn_decode(), so
 * decoding a copy of some code with the address of the original gives the
 * original's targets.
 */
struct x86insn {
	enum x86insn_kind kind;
	unsigned int len;
	uint64_t target;
};

/**
 * x86insn_decode() - recognise one instruction
 * @code:	the instruction's bytes
 * @avail:	how many bytes may be read at @code
 * @addr:	the address the instruction lives (or will live) at
 * @out:	filled on success
 *
 * Return: 0, or -ENOENT when the bytes are not one of the instructions listed
 * at the top of x86insn.h or are cut short by @avail.
 */
int x86insn_decode(const uint8_t *code, size_t avail, uint64_t addr,
		   struct x86insn *out);

/**
 * x86insn_encode_jmp() - encode "jmp rel32" (e9 rel32)
 * @from:	address of the jmp instruction
 * @to:		its target
 * @out:	receives the X86INSN_JMP32_LEN bytes
 *
 * Return: 0, or -ERANGE (nothing written) when @to is not within a signed
 * 32-bit displacement of @from + 5.
 */
int x86insn_encode_jmp(uint64_t from, uint64_t to,
		       uint8_t out[X86INSN_JMP32_LEN]);

/**
 * x86insn_encode_call() - encode "call rel32" (e8 rel32)
 * @from:	address of the call instruction
 * @to:		its target
 * @out:	receives the X86INSN_CALL_LEN bytes
 *
 * Return: 0, or -ERANGE (nothing written) when @to is not within a signed
 * 32-bit displacement of @from + 5.
 */
int x86insn_encode_call(uint64_t from, uint64_t to,
			uint8_t out[X86INSN_CALL_LEN]);

/**
 * x86insn_encode_jmp_rel8() - encode "jmp rel8" (eb rel8)
 * @from:	address of the jmp instruction
 * @to:		its target
 * @out:	receives the X86INSN_JMP8_LEN bytes
 *
 * Return: 0, or -ERANGE (nothing written) when @to is not within -128..127
 * of @from + 2.
 */
int x86insn_encode_jmp_rel8(uint64_t from, uint64_t to,
			    uint8_t out[X86INSN_JMP8_LEN]);

/**
 * x86insn_encode_nop() - encode ONE nop instruction of a given length
 * @len:	1..X86INSN_MAX_LEN
 * @out:	receives @len bytes
 *
 * The encodings are the ones GNU as and the kernel use:
 *	1: 90
 *	2: 66 90
 *	3: 0f 1f 00
 *	4: 0f 1f 40 00
 *	5: 0f 1f 44 00 00
 *	6: 66 0f 1f 44 00 00
 *	7: 0f 1f 80 00 00 00 00
 *	8: 0f 1f 84 00 00 00 00 00
 *	9: 66 0f 1f 84 00 00 00 00 00
 *	10..15: (len - 10) times 66, then 66 2e 0f 1f 84 00 00 00 00 00
 *
 * Return: 0, or -EINVAL for a length out of range.
 */
int x86insn_encode_nop(size_t len, uint8_t *out);

/**
 * x86insn_get_le32() - a little-endian 32-bit field of an instruction
 * @p:	its first byte (any alignment)
 *
 * Return: the value, signed (rel32, disp32, imm32).
 */
static inline int32_t x86insn_get_le32(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	return (int32_t)v;
}

/**
 * x86insn_put_le32() - store a little-endian 32-bit field of an instruction
 * @p:	its first byte (any alignment)
 * @v:	the value
 */
static inline void x86insn_put_le32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;

	p[0] = u & 0xff;
	p[1] = (u >> 8) & 0xff;
	p[2] = (u >> 16) & 0xff;
	p[3] = (u >> 24) & 0xff;
}

#endif /* UKLP_X86INSN_H */
