/* SPDX-License-Identifier: MIT */
/*
 * x86reloc - relocate the first instructions of a function (x86-64), for
 * prologue sites (DESIGN.md 4): a function built without any patchable
 * entry is hooked by moving its first >= 5 bytes into a copy, which ends in
 * a jmp back to the rest of the function, and writing a jmp over them.
 * Shared by the runtime and the tool. Prefix: x86reloc_.
 *
 * Decoding is Capstone's (CS_ARCH_X86, CS_MODE_64, details on); the
 * re-encoding is ours. In the copy (every byte sequence in hex):
 *
 *   any instruction without a RIP-relative part   copied as is
 *   RIP-relative memory operand, e.g.             copied, disp32 re-aimed
 *     48 8d 05 <disp32>   lea d(%rip),%rax        at the same absolute
 *     8b 05 <disp32>      mov d(%rip),%eax        address; the length is
 *     83 3d <disp32> ib   cmpl $ib,d(%rip)        unchanged
 *     ff 25 <disp32>      jmp *d(%rip)
 *   eb rel8, e9 rel32     jmp                     e9 rel32
 *   7x rel8, 0f 8x rel32  jcc                     0f 8x rel32
 *   e0/e1/e2 rel8         loopne/loope/loop       e2 02 eb 05 e9 rel32
 *   e3 rel8, 67 e3 rel8   jrcxz/jecxz               (same shape, prefix kept)
 *   e8 rel32  call        (last displaced          68 <lo32 of R>
 *                          instruction only; R =   c7 44 24 04 <hi32 of R>
 *                          the address after it,   e9 rel32
 *                          in the original)        (push R; jmp)
 *   ff 15 <disp32>        call *d(%rip) (same)    68 .. c7 44 24 04 ..
 *                                                 ff 25 <disp32>
 *   <end>                                         e9 rel32 back to
 *                                                 entry + skip + displaced
 *
 * A branch whose target is strictly inside the displaced bytes is aimed at
 * the matching instruction of the copy; a branch to the entry itself keeps
 * the entry (after patching, like a recursive call, it goes to the new
 * function: a loop whose head is the entry carries no state other than
 * what a call would). Branch hint and bnd prefixes (2e, 3e, f2) are dropped.
 *
 * Refused, with a typed reason (enum x86reloc_reason) that says why:
 *   - fewer than 5 bytes after the endbr64 (TOO_SHORT);
 *   - in the displaced bytes: a call other than the last displaced
 *     instruction (it returns into the bytes the jmp overwrites), or of
 *     another form than e8/ff 15 (a call is rewritten as a push of the
 *     original return address and a jmp, so that the callee returns into
 *     the function itself, where unwinders and the stack check know the
 *     code: gcc's "sub $8,%rsp; call f" entries are common), ret,
 *     int3/int1 (a breakpoint, or another patcher at work), ud2/ud1/ud0, an
 *     unconditional jmp followed by more displaced bytes (what follows is
 *     reached from elsewhere, perhaps indirectly), 66/67-prefixed direct
 *     branches (rel16 or a truncated target on some CPUs), xbegin,
 *     EIP-relative operands (67 prefix), RIP-relative operands that point
 *     strictly inside the displaced bytes, a branch into the middle of a
 *     displaced instruction;
 *   - anywhere else in the function: a direct jmp/jcc/call/loop or a
 *     RIP-relative operand (a label's address taken, as with "&&label")
 *     whose target is strictly inside the displaced bytes
 *     (JUMP_INTO_PROLOGUE); any byte sequence Capstone cannot decode, since
 *     the linear sweep could not be trusted past it (UNDECODABLE);
 *   - a target more than +/-2 GB from the copy (OUT_OF_RANGE).
 *
 * Limits: only the function's own bytes are scanned. Branches from other
 * code into the displaced bytes, such as gcc's "f.cold" fragments jumping
 * back, are found only if the caller passes that code to x86reloc_scan().
 * Indirect jumps (jump tables, computed goto in non-PIC code) cannot be
 * followed; the rules above refuse the prologue shapes where their targets
 * could lie (after an unconditional jmp), but a table pointing at an
 * instruction boundary strictly inside the first 5 bytes of code that is
 * also reached by falling through cannot be seen.
 *
 * The copy starts without endbr64: enter it with a direct jmp.
 */
#ifndef UKLP_X86RELOC_H
#define UKLP_X86RELOC_H

#include <stddef.h>
#include <stdint.h>

/* Bytes the jmp written at the entry needs: e9 rel32. */
#define X86RELOC_MIN_DISPLACED 5
/* Room for the copy: the displaced instructions rewritten (at most 33
 * bytes: two loops grown to 9 bytes each, then a 15-byte instruction) and
 * the jmp back; and for the boundaries (at most 5: 4 one-byte ones, then
 * one more). */
#define X86RELOC_COPY_MAX 64
#define X86RELOC_INSN_MAX 16

/*
 * Why a function's entry cannot be relocated. Offsets in messages
 * (struct x86reloc_plan.reason_at) count from the function's address.
 */
enum x86reloc_reason {
	X86RELOC_OK = 0,
	X86RELOC_TOO_SHORT,	     /* < 5 bytes after endbr64 (at: size) */
	X86RELOC_JUMP_INTO_PROLOGUE, /* at: the target strictly inside */
	X86RELOC_CALL_IN_PROLOGUE,   /* at: the call */
	X86RELOC_RET_IN_PROLOGUE,    /* at: the ret */
	X86RELOC_UNDECODABLE,	     /* at: first byte Capstone rejects */
	X86RELOC_UNRELOCATABLE,	     /* at: the instruction */
	X86RELOC_INT3_IN_PROLOGUE,   /* at: the int3 */
	X86RELOC_UD2_IN_PROLOGUE,    /* at: the ud2 (or ud0, ud1) */
	X86RELOC_JMP_IN_PROLOGUE,    /* at: a jmp with displaced bytes after */
	X86RELOC_OUT_OF_RANGE,	     /* at: the instruction (or the end of
				      * the displaced bytes for the jmp back)
				      * whose target is > +/-2 GB from the
				      * copy: plan again with a nearer copy */
};

/**
 * struct x86reloc_plan - how a function's entry is relocated
 * @displaced:	bytes taken from the function, starting at its address +
 *		@skip: >= 5, ends on an instruction boundary
 * @skip:	4 when the function starts with endbr64 (f3 0f 1e fa), which
 *		stays at the entry; 0 otherwise
 * @copy:	the code to place at the copy address given to
 *		x86reloc_plan(): the displaced instructions, rewritten, then
 *		e9 rel32 to the function's address + @skip + @displaced
 * @copy_len:	bytes used in @copy
 * @insn_off:	offset of each displaced instruction from the function's
 *		address + @skip (insn_off[0] is 0)
 * @copy_off:	offset of its rewritten form in @copy
 * @ninsn:	number of displaced instructions
 * @reason:	X86RELOC_OK, or why the entry cannot be relocated; the other
 *		fields are then meaningless
 * @reason_at:	offset from the function's address the reason refers to
 *		(see enum x86reloc_reason)
 *
 * @insn_off/@copy_off move a thread stopped inside the displaced bytes to
 * the same place in the copy (x86reloc_map_pc()).
 */
struct x86reloc_plan {
	size_t displaced;
	size_t skip;
	uint8_t copy[X86RELOC_COPY_MAX];
	size_t copy_len;
	size_t insn_off[X86RELOC_INSN_MAX];
	size_t copy_off[X86RELOC_INSN_MAX];
	size_t ninsn;
	enum x86reloc_reason reason;
	size_t reason_at;
};

/**
 * x86reloc_plan() - decide whether and how a function's entry relocates
 * @code:	the whole function's bytes (as in the file or in memory)
 * @func_size:	their number (the symbol's st_size)
 * @func_addr:	the address the function runs at
 * @copy_addr:	the address the copy will run at
 * @out:	the plan; out->reason says why when refused
 *
 * Decodes the first instructions after any endbr64 until they cover 5
 * bytes, rewrites them for @copy_addr and appends the jmp back, then scans
 * the whole function for references into them (see the top of this file).
 * Nothing is written anywhere but @out. May allocate (Capstone does): not
 * for use while other threads of the process are stopped at random places.
 *
 * Return: 0 when the entry can be relocated; -EOPNOTSUPP when it cannot
 * (out->reason, out->reason_at say why); -EINVAL for a NULL pointer;
 * -ENOMEM or -EIO when Capstone cannot be opened (out->reason is then
 * X86RELOC_UNDECODABLE).
 */
int x86reloc_plan(const uint8_t *code, size_t func_size, uint64_t func_addr,
		  uint64_t copy_addr, struct x86reloc_plan *out);

/**
 * x86reloc_scan() - look for references into a plan's displaced bytes in
 *		     other code
 * @p:		a plan with reason X86RELOC_OK
 * @func_addr:	the function's address given to x86reloc_plan()
 * @code:	other code that may branch into the function, e.g. its
 *		"f.cold" or "f.part.0" fragment
 * @size:	its size in bytes
 * @code_addr:	its address
 *
 * Applies the whole-function scan of x86reloc_plan() to @code. On a hit,
 * @p->reason becomes X86RELOC_JUMP_INTO_PROLOGUE with @p->reason_at the
 * target's offset from @func_addr; undecodable bytes in @code make it
 * X86RELOC_UNDECODABLE with @p->reason_at the offset in @code.
 *
 * Return: 0 when @code has no such reference; -EOPNOTSUPP when it has (or
 * cannot be decoded); -EINVAL for a plan that is not OK; -ENOMEM or -EIO
 * when Capstone cannot be opened.
 */
int x86reloc_scan(struct x86reloc_plan *p, uint64_t func_addr,
		  const uint8_t *code, size_t size, uint64_t code_addr);

/**
 * x86reloc_reason_str() - a reason as text, for check and load to print
 * @r:		reason
 * @at:		the plan's reason_at
 * @buf:	room for the text
 * @len:	its size (64 bytes is enough)
 *
 * The texts: "ok", "too short", "jump into prologue at +0x12",
 * "call in prologue", "ret in prologue", "int3 in prologue",
 * "ud2 in prologue", "jmp in prologue at +0x0",
 * "undecodable instruction at +0x7", "unrelocatable instruction at +0x4",
 * "target out of range of the copy at +0x0".
 *
 * Return: @buf, or a constant string without the offset when @buf is NULL
 * or @len is 0.
 */
const char *x86reloc_reason_str(enum x86reloc_reason r, size_t at, char *buf,
				size_t len);

/**
 * x86reloc_map_pc() - where a thread inside the displaced bytes goes on
 * @p:		a plan with reason X86RELOC_OK
 * @func_addr:	the function's address given to x86reloc_plan()
 * @copy_addr:	the copy's address given to x86reloc_plan()
 * @pc:		the thread's instruction pointer
 * @new_pc:	receives the matching address in the copy
 *
 * A thread at the first displaced byte (@func_addr + skip) maps to the
 * start of the copy, although it may also stay: it will take the jmp.
 *
 * Return: 0; -ERANGE when @pc is not inside the displaced bytes (the
 * thread need not move); -EINVAL when @pc is inside but not at an
 * instruction boundary, or @p is not an OK plan.
 */
int x86reloc_map_pc(const struct x86reloc_plan *p, uint64_t func_addr,
		    uint64_t copy_addr, uint64_t pc, uint64_t *new_pc);

#endif /* UKLP_X86RELOC_H */
