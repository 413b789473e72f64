// SPDX-License-Identifier: MIT
/*
 * x86insn - a tiny x86-64 decoder and encoder for function-entry
 * instructions. See x86insn.h for the byte sequences recognised.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "x86insn.h"

static void set(struct x86insn *out, enum x86insn_kind kind, size_t len,
		uint64_t target)
{
	out->kind = kind;
	out->len = (unsigned int)len;
	out->target = target;
}

/*
 * The long NOP: [66|2e]... [REX] 0f 1f /0, or 66 [66]... 90.
 * @max is at most X86INSN_MAX_LEN, which bounds the prefix run.
 */
static int decode_nop(const uint8_t *code, size_t max, struct x86insn *out)
{
	size_t i = 0, disp = 0;
	int seen_2e = 0;
	uint8_t modrm, mod, rm;

	while (i < max && (code[i] == 0x66 || code[i] == 0x2e)) {
		if (code[i] == 0x2e)
			seen_2e = 1;
		i++;
	}
	if (i >= max)
		return -ENOENT;
	/* 66 90 is xchg %ax,%ax; REX 90 is not always a NOP (41 90). */
	if (code[i] == 0x90) {
		if (i == 0 || seen_2e)
			return -ENOENT;
		set(out, X86_NOP, i + 1, 0);
		return 0;
	}
	if ((code[i] & 0xf0) == 0x40)
		i++;
	if (i + 3 > max || code[i] != 0x0f || code[i + 1] != 0x1f)
		return -ENOENT;
	modrm = code[i + 2];
	i += 3;
	if (modrm & 0x38) /* /0: reg field must be 0 */
		return -ENOENT;
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod != 3 && rm == 4) {
		/* SIB byte; base 5 with mod 0 means disp32 and no base. */
		if (i >= max)
			return -ENOENT;
		if (mod == 0 && (code[i] & 7) == 5)
			disp = 4;
		i++;
	}
	if (mod == 0 && rm == 5)
		disp = 4; /* disp32(%rip) */
	else if (mod == 1)
		disp = 1;
	else if (mod == 2)
		disp = 4;
	if (i + disp > max)
		return -ENOENT;
	set(out, X86_NOP, i + disp, 0);
	return 0;
}

/**
 * x86insn_decode() - recognise one instruction (see x86insn.h for the list)
 * @code:	its bytes
 * @avail:	how many bytes may be read at @code
 * @addr:	its address, for the targets
 * @out:	filled on success
 *
 * Return: 0 or -ENOENT.
 */
int x86insn_decode(const uint8_t *code, size_t avail, uint64_t addr,
		   struct x86insn *out)
{
	size_t max = avail < X86INSN_MAX_LEN ? avail : X86INSN_MAX_LEN;

	if (!max)
		return -ENOENT;

	switch (code[0]) {
	case 0x90:
		set(out, X86_NOP, 1, 0);
		return 0;
	case X86INSN_INT3:
		set(out, X86_INT3, 1, 0);
		return 0;
	case 0xc3:
		set(out, X86_RET, 1, 0);
		return 0;
	case 0xeb:
		if (max < 2)
			return -ENOENT;
		set(out, X86_JMP, 2, addr + 2 + (int64_t)(int8_t)code[1]);
		return 0;
	case 0xe9:
	case 0xe8:
		if (max < 5)
			return -ENOENT;
		set(out, code[0] == 0xe9 ? X86_JMP : X86_CALL, 5,
		    addr + 5 + (int64_t)x86insn_get_le32(code + 1));
		return 0;
	case 0xff:
		if (max < 6 || (code[1] != 0x25 && code[1] != 0x15))
			return -ENOENT;
		set(out, code[1] == 0x25 ? X86_JMP_IND_RIP : X86_CALL_IND_RIP,
		    6, addr + 6 + (int64_t)x86insn_get_le32(code + 2));
		return 0;
	case 0xf3:
		if (max < 4 || code[1] != 0x0f || code[2] != 0x1e ||
		    code[3] != 0xfa)
			return -ENOENT;
		set(out, X86_ENDBR, 4, 0);
		return 0;
	default:
		return decode_nop(code, max, out);
	}
}

/* The rel32 of a 5-byte branch at @from to @to, or -ERANGE. */
static int rel32(uint64_t from, uint64_t to, int32_t *rel)
{
	int64_t d = (int64_t)(to - (from + 5));

	if (d < INT32_MIN || d > INT32_MAX)
		return -ERANGE;
	*rel = (int32_t)d;
	return 0;
}

/**
 * x86insn_encode_jmp() - encode "e9 rel32"
 * @from:	address of the jmp
 * @to:		its target
 * @out:	5 bytes
 *
 * Return: 0 or -ERANGE (out of +/-2 GB).
 */
int x86insn_encode_jmp(uint64_t from, uint64_t to,
		       uint8_t out[X86INSN_JMP32_LEN])
{
	int32_t rel;
	int err = rel32(from, to, &rel);

	if (err)
		return err;
	out[0] = 0xe9;
	x86insn_put_le32(out + 1, rel);
	return 0;
}

/**
 * x86insn_encode_call() - encode "e8 rel32"
 * @from:	address of the call
 * @to:		its target
 * @out:	5 bytes
 *
 * Return: 0 or -ERANGE (out of +/-2 GB).
 */
int x86insn_encode_call(uint64_t from, uint64_t to,
			uint8_t out[X86INSN_CALL_LEN])
{
	int32_t rel;
	int err = rel32(from, to, &rel);

	if (err)
		return err;
	out[0] = 0xe8;
	x86insn_put_le32(out + 1, rel);
	return 0;
}

/**
 * x86insn_encode_jmp_rel8() - encode "eb rel8"
 * @from:	address of the jmp
 * @to:		its target
 * @out:	2 bytes
 *
 * Return: 0 or -ERANGE (out of -128..127).
 */
int x86insn_encode_jmp_rel8(uint64_t from, uint64_t to,
			    uint8_t out[X86INSN_JMP8_LEN])
{
	int64_t d = (int64_t)(to - (from + 2));

	if (d < INT8_MIN || d > INT8_MAX)
		return -ERANGE;
	out[0] = 0xeb;
	out[1] = (uint8_t)(int8_t)d;
	return 0;
}

/**
 * x86insn_encode_nop() - encode one NOP instruction of @len bytes
 * @len:	1..X86INSN_MAX_LEN
 * @out:	@len bytes (encodings in x86insn.h)
 *
 * Return: 0 or -EINVAL.
 */
int x86insn_encode_nop(size_t len, uint8_t *out)
{
	static const uint8_t nops[10][10] = {
	    {0x90},
	    {0x66, 0x90},
	    {0x0f, 0x1f, 0x00},
	    {0x0f, 0x1f, 0x40, 0x00},
	    {0x0f, 0x1f, 0x44, 0x00, 0x00},
	    {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
	    {0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
	    {0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
	    {0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
	    {0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
	};
	size_t pad;

	if (len < 1 || len > X86INSN_MAX_LEN)
		return -EINVAL;
	pad = len > 10 ? len - 10 : 0;
	memset(out, 0x66, pad);
	memcpy(out + pad, nops[len - pad - 1], len - pad);
	return 0;
}
