// SPDX-License-Identifier: MIT
/*
 * x86reloc - relocate the first instructions of a function into a copy
 * (x86-64). What is rewritten and what is refused: see x86reloc.h.
 *
 * Capstone decodes (lengths, instruction ids, operands, and where the
 * displacement and immediate sit in the bytes); every field this file
 * relies on is checked against the bytes themselves before it is used, and
 * a disagreement refuses the function rather than guessing.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "x86insn.h"
#include "x86reloc.h"

static const uint8_t endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};

/* Rewritten sizes: e9 rel32; 0f 8x rel32; [67] e2 02 eb 05 e9 rel32. */
#define JMP32_LEN 5
#define JCC32_LEN 6
#define LOOP_TAIL (2 + 2 + JMP32_LEN)
/* A call as the last displaced instruction: push the original return
 * address (68 imm32 pushes it sign-extended; c7 44 24 04 imm32 sets its
 * high half), then jump: e9 rel32, or ff 25 disp32 for ff 15 disp32. */
#define PUSH64_LEN (5 + 8)

enum dkind {
	D_COPY,	    /* copied as is */
	D_RIPREL,   /* copied, disp32 at @disp_off re-aimed */
	D_JMP,	    /* eb rel8, e9 rel32 -> e9 rel32 */
	D_JCC,	    /* 7x rel8, 0f 8x rel32 -> 0f 8x rel32 */
	D_LOOP,	    /* [67] e0..e3 rel8 -> [67] e0..e3 02 eb 05 e9 rel32 */
	D_CALL,	    /* e8 rel32 -> push <return>; e9 rel32 */
	D_CALL_RIP, /* ff 15 disp32 -> push <return>; ff 25 disp32 */
};

/* One displaced instruction. */
struct dinsn {
	enum dkind kind;
	size_t off; /* from the function's address */
	size_t len;
	size_t disp_off; /* D_RIPREL: the disp32 within the instruction */
	uint8_t op;	 /* D_JCC: condition (0..15); D_LOOP: opcode */
	bool addr32;	 /* D_LOOP: 67 prefix (ecx instead of rcx) */
	uint64_t target; /* branch target or RIP-relative operand address */
};

struct dec {
	csh h;
	cs_insn *in;
};

static int dec_open(struct dec *d)
{
	cs_err e = cs_open(CS_ARCH_X86, CS_MODE_64, &d->h);

	if (e != CS_ERR_OK)
		return e == CS_ERR_MEM ? -ENOMEM : -EIO;
	if (cs_option(d->h, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK) {
		cs_close(&d->h);
		return -EIO;
	}
	d->in = cs_malloc(d->h);
	if (!d->in) {
		cs_close(&d->h);
		return -ENOMEM;
	}
	return 0;
}

static void dec_close(struct dec *d)
{
	cs_free(d->in, 1);
	cs_close(&d->h);
}

/* Decode the one instruction at @code (at most @avail bytes) into d->in. */
static bool dec_one(struct dec *d, const uint8_t *code, size_t avail,
		    uint64_t addr)
{
	const uint8_t *p = code;
	size_t n = avail;
	uint64_t a = addr;

	return avail && cs_disasm_iter(d->h, &p, &n, &a, d->in) &&
	       d->in->size > 0 && d->in->size <= avail;
}

/* rel32 from @next (the address after the instruction) to @to, if any. */
static bool rel32(uint64_t next, uint64_t to, int32_t *rel)
{
	int64_t r = (int64_t)(to - next);

	if (r < INT32_MIN || r > INT32_MAX)
		return false;
	*rel = (int32_t)r;
	return true;
}

enum riprel {
	RIP_NONE,
	RIP_YES,
	RIP_EIP, /* 67-prefixed: EIP-relative, truncated to 32 bits */
	RIP_BAD, /* Capstone's details and the bytes disagree */
};

/*
 * Does the decoded instruction (whose bytes are @b) have a RIP-relative
 * memory operand? In 64-bit mode that is ModRM mod=00 rm=101 (no SIB),
 * with the disp32 right after the ModRM byte, e.g. 8b 05 <disp32>; the
 * operand is the address after the instruction + disp32.
 */
static enum riprel riprel(const cs_insn *in, const uint8_t *b, size_t *disp_off,
			  uint64_t *target)
{
	const cs_x86 *x = &in->detail->x86;
	const cs_x86_encoding *e = &x->encoding;
	bool op = false, modrm;

	for (int i = 0; i < x->op_count; i++) {
		if (x->operands[i].type != X86_OP_MEM)
			continue;
		if (x->operands[i].mem.base == X86_REG_EIP)
			return RIP_EIP;
		if (x->operands[i].mem.base == X86_REG_RIP)
			op = true;
	}
	modrm = e->modrm_offset && e->modrm_offset < in->size &&
		(b[e->modrm_offset] & 0xc7) == 0x05;
	if (!op && !modrm)
		return RIP_NONE;
	/* Capstone 4 reports disp_size 2 after a 66 prefix (66 0f 6f 05
	 * <disp32>, movdqa): ignore it, the disp is always 32 bits here. */
	if (op != modrm || e->disp_offset != e->modrm_offset + 1 ||
	    e->disp_offset + 4u > in->size ||
	    x86insn_get_le32(b + e->disp_offset) != (int32_t)x->disp)
		return RIP_BAD;
	*disp_off = e->disp_offset;
	*target = in->address + in->size + (uint64_t)(int64_t)x->disp;
	return RIP_YES;
}

/* A direct relative branch's target (Capstone's immediate operand). */
static bool branch_target(struct dec *d, uint64_t *target)
{
	const cs_x86 *x = &d->in->detail->x86;

	if (!cs_insn_group(d->h, d->in, CS_GRP_BRANCH_RELATIVE) ||
	    x->op_count < 1 || x->operands[0].type != X86_OP_IMM)
		return false;
	*target = (uint64_t)x->operands[0].imm;
	return true;
}

static int refuse(struct x86reloc_plan *p, enum x86reloc_reason r, size_t at)
{
	p->reason = r;
	p->reason_at = at;
	return -EOPNOTSUPP;
}

static bool is_jcc(unsigned int id)
{
	switch (id) {
	case X86_INS_JAE:
	case X86_INS_JA:
	case X86_INS_JBE:
	case X86_INS_JB:
	case X86_INS_JE:
	case X86_INS_JGE:
	case X86_INS_JG:
	case X86_INS_JLE:
	case X86_INS_JL:
	case X86_INS_JNE:
	case X86_INS_JNO:
	case X86_INS_JNP:
	case X86_INS_JNS:
	case X86_INS_JO:
	case X86_INS_JP:
	case X86_INS_JS:
		return true;
	}
	return false;
}

static bool is_loop(unsigned int id)
{
	return id == X86_INS_LOOP || id == X86_INS_LOOPE ||
	       id == X86_INS_LOOPNE || id == X86_INS_JRCXZ ||
	       id == X86_INS_JECXZ || id == X86_INS_JCXZ;
}

/*
 * A direct branch's encoding, checked against the bytes: the prefixes, then
 * eb/7x/e0..e3 rel8, or e9/0f 8x rel32, the rel last. Prefixes allowed:
 * 2e 3e (hints), f2 (bnd), REX, all dropped; 67 for the loop family only.
 * 66 is refused: AMD CPUs take it as rel16 and truncate the target.
 */
static bool parse_branch(struct dec *d, const uint8_t *b, struct dinsn *di)
{
	const cs_x86_encoding *e = &d->in->detail->x86.encoding;
	size_t len = d->in->size, imm = e->imm_offset, opc;
	int64_t rel;

	if (!imm || imm + e->imm_size != len)
		return false;
	if (e->imm_size == 1) {
		opc = imm - 1;
		rel = (int8_t)b[imm];
		if (b[opc] == 0xeb) {
			di->kind = D_JMP;
		} else if (b[opc] >= 0x70 && b[opc] <= 0x7f) {
			di->kind = D_JCC;
			di->op = b[opc] & 0x0f;
		} else if (b[opc] >= 0xe0 && b[opc] <= 0xe3) {
			di->kind = D_LOOP;
			di->op = b[opc];
		} else {
			return false;
		}
	} else if (e->imm_size == 4) {
		rel = x86insn_get_le32(b + imm);
		if (b[imm - 1] == 0xe9) {
			opc = imm - 1;
			di->kind = D_JMP;
		} else if (imm >= 2 && b[imm - 2] == 0x0f &&
			   (b[imm - 1] & 0xf0) == 0x80) {
			opc = imm - 2;
			di->kind = D_JCC;
			di->op = b[imm - 1] & 0x0f;
		} else {
			return false;
		}
	} else {
		return false;
	}
	di->addr32 = false;
	for (size_t i = 0; i < opc; i++) {
		if (b[i] == 0x2e || b[i] == 0x3e || b[i] == 0xf2 ||
		    (b[i] & 0xf0) == 0x40)
			continue;
		if (b[i] == 0x67 && di->kind == D_LOOP) {
			di->addr32 = true;
			continue;
		}
		return false;
	}
	if (di->target != d->in->address + len + (uint64_t)rel)
		return false;
	/* and Capstone's name for it agrees with the opcode */
	switch (di->kind) {
	case D_JMP:
		return d->in->id == X86_INS_JMP;
	case D_JCC:
		return is_jcc(d->in->id);
	case D_LOOP:
		return is_loop(d->in->id);
	default:
		return false;
	}
}

/*
 * Classify the displaced instruction in d->in (bytes @b, at @off from the
 * function). Return 0, or the refusal.
 */
static int classify(struct dec *d, const uint8_t *b, size_t off,
		    struct dinsn *di, struct x86reloc_plan *p)
{
	const cs_insn *in = d->in;
	unsigned int id = in->id;

	di->off = off;
	di->len = in->size;
	di->kind = D_COPY;
	di->target = 0;

	/* cc int3, cd 03 int $3, f1 int1: breakpoints (a debugger's, or
	 * another patcher's int3 protocol under way) */
	if (id == X86_INS_INT3 || id == X86_INS_INT1 ||
	    (id == X86_INS_INT && in->detail->x86.op_count == 1 &&
	     in->detail->x86.operands[0].type == X86_OP_IMM &&
	     in->detail->x86.operands[0].imm == 3))
		return refuse(p, X86RELOC_INT3_IN_PROLOGUE, off);
	/* 0f 0b ud2, 0f b9 ud1, 0f ff ud0 */
	if (id == X86_INS_UD2 || id == X86_INS_UD2B || id == X86_INS_UD0)
		return refuse(p, X86RELOC_UD2_IN_PROLOGUE, off);
	if (cs_insn_group(d->h, in, CS_GRP_RET) ||
	    cs_insn_group(d->h, in, CS_GRP_IRET))
		return refuse(p, X86RELOC_RET_IN_PROLOGUE, off);
	if (cs_insn_group(d->h, in, CS_GRP_CALL)) {
		/* Only "e8 rel32" and "ff 15 disp32" (no prefixes) are
		 * rewritten, and plan() accepts them only as the last
		 * displaced instruction. */
		if (in->size == 5 && b[0] == 0xe8) {
			di->kind = D_CALL;
			di->target = in->address + 5 +
				     (uint64_t)(int64_t)x86insn_get_le32(b + 1);
			return 0;
		}
		if (in->size == 6 && b[0] == 0xff && b[1] == 0x15) {
			di->kind = D_CALL_RIP;
			di->target = in->address + 6 +
				     (uint64_t)(int64_t)x86insn_get_le32(b + 2);
			return 0;
		}
		return refuse(p, X86RELOC_CALL_IN_PROLOGUE, off);
	}

	if (branch_target(d, &di->target)) {
		if (!parse_branch(d, b, di))
			return refuse(p, X86RELOC_UNRELOCATABLE, off);
		return 0;
	}
	if (cs_insn_group(d->h, in, CS_GRP_BRANCH_RELATIVE))
		return refuse(p, X86RELOC_UNRELOCATABLE, off);

	switch (riprel(in, b, &di->disp_off, &di->target)) {
	case RIP_NONE:
		break;
	case RIP_YES:
		di->kind = D_RIPREL;
		break;
	case RIP_EIP:
		return refuse(p, X86RELOC_UNRELOCATABLE, off);
	case RIP_BAD:
		return refuse(p, X86RELOC_UNDECODABLE, off);
	}
	return 0;
}

/* Does the instruction end the flow (no fall-through)? */
static bool unconditional(const cs_insn *in)
{
	return in->id == X86_INS_JMP || in->id == X86_INS_LJMP;
}

/* Is @t strictly inside the displaced bytes (after their first byte)? */
static bool interior(const struct x86reloc_plan *p, uint64_t func, uint64_t t)
{
	uint64_t lo = func + p->skip;

	return t > lo && t < lo + p->displaced;
}

/*
 * Look for references strictly inside @p's displaced bytes in the code at
 * @code (@size bytes at @addr); reason_at offsets: from @at_base for an
 * undecodable byte.
 */
static int scan(struct dec *d, struct x86reloc_plan *p, uint64_t func,
		const uint8_t *code, size_t size, uint64_t addr,
		uint64_t at_base)
{
	size_t off = 0, disp_off;
	uint64_t t;

	while (off < size) {
		const uint8_t *b = code + off;
		uint64_t a = addr + off;

		if (!dec_one(d, b, size - off, a))
			return refuse(p, X86RELOC_UNDECODABLE, a - at_base);
		if (branch_target(d, &t) && interior(p, func, t))
			return refuse(p, X86RELOC_JUMP_INTO_PROLOGUE, t - func);
		switch (riprel(d->in, b, &disp_off, &t)) {
		case RIP_YES:
			if (interior(p, func, t))
				return refuse(p, X86RELOC_JUMP_INTO_PROLOGUE,
					      t - func);
			break;
		case RIP_BAD:
			return refuse(p, X86RELOC_UNDECODABLE, a - at_base);
		default:
			break;
		}
		off += d->in->size;
	}
	return 0;
}

/* Where a branch to @t from inside the copy goes; false if mid-insn. */
static bool map_target(const struct x86reloc_plan *p, uint64_t func,
		       uint64_t copy, uint64_t t, uint64_t *dest)
{
	if (!interior(p, func, t)) {
		*dest = t;
		return true;
	}
	for (size_t i = 0; i < p->ninsn; i++) {
		if (func + p->skip + p->insn_off[i] == t) {
			*dest = copy + p->copy_off[i];
			return true;
		}
	}
	return false;
}

/* Write the rewritten instruction @di at p->copy + @co. */
static int emit(struct x86reloc_plan *p, const uint8_t *code,
		const struct dinsn *di, size_t co, uint64_t func, uint64_t copy)
{
	uint8_t *o = p->copy + co;
	uint64_t at = copy + co, dest;
	int32_t r;

	switch (di->kind) {
	case D_COPY:
		memcpy(o, code + di->off, di->len);
		return 0;
	case D_RIPREL:
		memcpy(o, code + di->off, di->len);
		if (!rel32(at + di->len, di->target, &r))
			return refuse(p, X86RELOC_OUT_OF_RANGE, di->off);
		x86insn_put_le32(o + di->disp_off, r);
		return 0;
	case D_JMP:
		map_target(p, func, copy, di->target, &dest);
		if (!rel32(at + JMP32_LEN, dest, &r))
			return refuse(p, X86RELOC_OUT_OF_RANGE, di->off);
		o[0] = 0xe9;
		x86insn_put_le32(o + 1, r);
		return 0;
	case D_JCC:
		map_target(p, func, copy, di->target, &dest);
		if (!rel32(at + JCC32_LEN, dest, &r))
			return refuse(p, X86RELOC_OUT_OF_RANGE, di->off);
		o[0] = 0x0f;
		o[1] = 0x80 | di->op;
		x86insn_put_le32(o + 2, r);
		return 0;
	case D_CALL:
	case D_CALL_RIP:
		/* The return address is the original's, right after the
		 * displaced bytes: the callee returns into the function's
		 * own code, with its own unwind information. */
		dest = func + di->off + di->len;
		o[0] = 0x68; /* push $lo32 (sign-extended) */
		x86insn_put_le32(o + 1, (int32_t)(uint32_t)dest);
		o[5] = 0xc7; /* movl $hi32, 4(%rsp) */
		o[6] = 0x44;
		o[7] = 0x24;
		o[8] = 0x04;
		x86insn_put_le32(o + 9, (int32_t)(uint32_t)(dest >> 32));
		o += PUSH64_LEN;
		at += PUSH64_LEN;
		if (di->kind == D_CALL) {
			if (!rel32(at + JMP32_LEN, di->target, &r))
				return refuse(p, X86RELOC_OUT_OF_RANGE,
					      di->off);
			o[0] = 0xe9;
			x86insn_put_le32(o + 1, r);
			return 0;
		}
		if (!rel32(at + 6, di->target, &r))
			return refuse(p, X86RELOC_OUT_OF_RANGE, di->off);
		o[0] = 0xff; /* jmp *disp32(%rip) */
		o[1] = 0x25;
		x86insn_put_le32(o + 2, r);
		return 0;
	case D_LOOP:
		if (di->addr32) {
			*o++ = 0x67;
			at++;
		}
		map_target(p, func, copy, di->target, &dest);
		if (!rel32(at + LOOP_TAIL, dest, &r))
			return refuse(p, X86RELOC_OUT_OF_RANGE, di->off);
		o[0] = di->op; /* taken: to the e9 */
		o[1] = 0x02;
		o[2] = 0xeb; /* not taken: over the e9 */
		o[3] = 0x05;
		o[4] = 0xe9;
		x86insn_put_le32(o + 5, r);
		return 0;
	}
	return refuse(p, X86RELOC_UNRELOCATABLE, di->off);
}

static size_t copy_size(const struct dinsn *di)
{
	switch (di->kind) {
	case D_JMP:
		return JMP32_LEN;
	case D_JCC:
		return JCC32_LEN;
	case D_LOOP:
		return (di->addr32 ? 1 : 0) + LOOP_TAIL;
	case D_CALL:
		return PUSH64_LEN + JMP32_LEN;
	case D_CALL_RIP:
		return PUSH64_LEN + 6;
	default:
		return di->len;
	}
}

/* The work of x86reloc_plan() with an open decoder. */
static int plan(struct dec *d, const uint8_t *code, size_t size, uint64_t func,
		uint64_t copy, struct x86reloc_plan *p)
{
	struct dinsn di[X86RELOC_INSN_MAX];
	size_t off, end, co = 0;
	uint64_t dest;
	int32_t r;
	int ret;

	if (size >= sizeof(endbr64) && !memcmp(code, endbr64, 4))
		p->skip = sizeof(endbr64);
	if (size < p->skip + X86RELOC_MIN_DISPLACED)
		return refuse(p, X86RELOC_TOO_SHORT, size);

	/* The displaced instructions, whole, covering >= 5 bytes. */
	for (off = p->skip; off - p->skip < X86RELOC_MIN_DISPLACED;) {
		struct dinsn *cur = &di[p->ninsn];

		if (p->ninsn == X86RELOC_INSN_MAX)
			return refuse(p, X86RELOC_UNRELOCATABLE, off);
		if (!dec_one(d, code + off, size - off, func + off))
			return refuse(p, X86RELOC_UNDECODABLE, off);
		ret = classify(d, code + off, off, cur, p);
		if (ret)
			return ret;
		if (unconditional(d->in) &&
		    off + cur->len - p->skip < X86RELOC_MIN_DISPLACED)
			return refuse(p, X86RELOC_JMP_IN_PROLOGUE, off);
		/* A call returns to the byte after it: that must be outside
		 * the displaced bytes, which the jmp overwrites. */
		if ((cur->kind == D_CALL || cur->kind == D_CALL_RIP) &&
		    off + cur->len - p->skip < X86RELOC_MIN_DISPLACED)
			return refuse(p, X86RELOC_CALL_IN_PROLOGUE, off);
		p->insn_off[p->ninsn] = off - p->skip;
		p->copy_off[p->ninsn] = co;
		co += copy_size(cur);
		p->ninsn++;
		off += cur->len;
	}
	p->displaced = off - p->skip;
	end = off;
	if (co + JMP32_LEN > sizeof(p->copy))
		return refuse(p, X86RELOC_UNRELOCATABLE, p->skip);

	/* Targets inside the displaced bytes: only whole instructions, and
	 * only for branches (a RIP-relative address would stay in the
	 * original, which the jmp overwrites). */
	for (size_t i = 0; i < p->ninsn; i++) {
		if (di[i].kind == D_COPY || !interior(p, func, di[i].target))
			continue;
		if (di[i].kind == D_RIPREL || di[i].kind == D_CALL ||
		    di[i].kind == D_CALL_RIP ||
		    !map_target(p, func, copy, di[i].target, &dest))
			return refuse(p, X86RELOC_UNRELOCATABLE, di[i].off);
	}

	/* The rest of the function: nothing may lead into the bytes. */
	ret = scan(d, p, func, code + end, size - end, func + end, func);
	if (ret)
		return ret;

	for (size_t i = 0; i < p->ninsn; i++) {
		ret = emit(p, code, &di[i], p->copy_off[i], func, copy);
		if (ret)
			return ret;
	}
	if (!rel32(copy + co + JMP32_LEN, func + end, &r))
		return refuse(p, X86RELOC_OUT_OF_RANGE, end);
	p->copy[co] = 0xe9;
	x86insn_put_le32(p->copy + co + 1, r);
	p->copy_len = co + JMP32_LEN;
	return 0;
}

int x86reloc_plan(const uint8_t *code, size_t func_size, uint64_t func_addr,
		  uint64_t copy_addr, struct x86reloc_plan *out)
{
	struct dec d;
	int ret;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!code) {
		out->reason = X86RELOC_UNDECODABLE;
		return -EINVAL;
	}
	ret = dec_open(&d);
	if (ret) {
		out->reason = X86RELOC_UNDECODABLE;
		return ret;
	}
	ret = plan(&d, code, func_size, func_addr, copy_addr, out);
	dec_close(&d);
	if (ret) {
		/* Nothing half-built is left for a caller to use by mistake. */
		enum x86reloc_reason r = out->reason;
		size_t at = out->reason_at;

		memset(out, 0, sizeof(*out));
		out->reason = r;
		out->reason_at = at;
	}
	return ret;
}

int x86reloc_scan(struct x86reloc_plan *p, uint64_t func_addr,
		  const uint8_t *code, size_t size, uint64_t code_addr)
{
	struct dec d;
	int ret;

	if (!p || p->reason != X86RELOC_OK || !p->displaced || (!code && size))
		return -EINVAL;
	ret = dec_open(&d);
	if (ret)
		return ret;
	ret = scan(&d, p, func_addr, code, size, code_addr, code_addr);
	dec_close(&d);
	return ret;
}

const char *x86reloc_reason_str(enum x86reloc_reason r, size_t at, char *buf,
				size_t len)
{
	const char *s, *fmt = NULL;

	switch (r) {
	case X86RELOC_OK:
		s = "ok";
		break;
	case X86RELOC_TOO_SHORT:
		s = "too short";
		break;
	case X86RELOC_JUMP_INTO_PROLOGUE:
		s = "jump into prologue";
		fmt = "jump into prologue at +0x%zx";
		break;
	case X86RELOC_CALL_IN_PROLOGUE:
		s = "call in prologue";
		break;
	case X86RELOC_RET_IN_PROLOGUE:
		s = "ret in prologue";
		break;
	case X86RELOC_INT3_IN_PROLOGUE:
		s = "int3 in prologue";
		break;
	case X86RELOC_UD2_IN_PROLOGUE:
		s = "ud2 in prologue";
		break;
	case X86RELOC_JMP_IN_PROLOGUE:
		s = "jmp in prologue";
		fmt = "jmp in prologue at +0x%zx";
		break;
	case X86RELOC_UNDECODABLE:
		s = "undecodable instruction";
		fmt = "undecodable instruction at +0x%zx";
		break;
	case X86RELOC_UNRELOCATABLE:
		s = "unrelocatable instruction";
		fmt = "unrelocatable instruction at +0x%zx";
		break;
	case X86RELOC_OUT_OF_RANGE:
		s = "target out of range of the copy";
		fmt = "target out of range of the copy at +0x%zx";
		break;
	default:
		s = "unknown reason";
		break;
	}
	if (!buf || !len)
		return s;
	if (fmt)
		snprintf(buf, len, fmt, at);
	else
		snprintf(buf, len, "%s", s);
	return buf;
}

int x86reloc_map_pc(const struct x86reloc_plan *p, uint64_t func_addr,
		    uint64_t copy_addr, uint64_t pc, uint64_t *new_pc)
{
	uint64_t lo;

	if (!p || !new_pc || p->reason != X86RELOC_OK || !p->displaced)
		return -EINVAL;
	lo = func_addr + p->skip;
	if (pc < lo || pc >= lo + p->displaced)
		return -ERANGE;
	for (size_t i = 0; i < p->ninsn; i++) {
		if (lo + p->insn_off[i] == pc) {
			*new_pc = copy_addr + p->copy_off[i];
			return 0;
		}
	}
	return -EINVAL;
}
