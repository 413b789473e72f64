/* SPDX-License-Identifier: MIT */
/*
 * poke - rewrite this process's code while other threads run it (x86-64).
 * Prefix: poke_.
 *
 * The user-space counterpart of the kernel's text_poke()/text_poke_bp()
 * (arch/x86/kernel/alternative.c) and of a kprobe's int3:
 *
 * - Code is never made writable: every write goes through one
 *   /proc/self/mem file descriptor (opened O_RDWR once). The kernel writes
 *   such pages with FOLL_FORCE, so read-only private text is written
 *   (copied on write) and the mapping stays r-xp. Reads of code go through
 *   the same descriptor, so execute-only pages work too.
 * - /proc/self/mem writes use the kernel's memcpy: only single-byte stores
 *   are atomic with respect to other threads' instruction fetch. An
 *   instruction other threads may be executing is therefore replaced with
 *   the int3 protocol (poke_text_bp()), and a thread that meets the
 *   transient int3 is emulated by the SIGTRAP handler as if it had executed
 *   the new instruction.
 * - Other threads see new code once poke_sync_core() has made each of them
 *   execute a core-serializing instruction (membarrier SYNC_CORE).
 *
 * The SIGTRAP handler installed by poke_init() handles only int3 traps at
 * addresses of a poke in progress or of a permanent breakpoint; every other
 * SIGTRAP goes to the handler that was installed before (see poke_init()).
 *
 * Limitations, inherent to doing this in user space:
 * - A thread that executes a site while it has SIGTRAP blocked, and meets
 *   the transient int3, is killed by the kernel (a forced signal that is
 *   blocked resets the disposition to SIG_DFL).
 * - Under a debugger, the debugger sees the SIGTRAPs first; it must pass
 *   them on ("handle SIGTRAP nostop noprint pass" in gdb).
 * - Emulating a call does not update a CET shadow stack: do not use
 *   call-type pokes in a process running with user shadow stacks.
 *
 * Every function but the handler-side ones is thread-safe; writers are
 * serialized by one mutex. Breakpoint handlers run in signal context.
 */
#ifndef UKLP_POKE_H
#define UKLP_POKE_H

#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

/**
 * typedef poke_bp_handler_t - the handler of a permanent breakpoint
 * @addr:	the breakpoint's address
 * @uc:		the trapped thread's context; its PC is @addr on entry
 *
 * Runs in signal context in the thread that hit the breakpoint, so it must
 * be async-signal-safe and must not call poke_bp_remove(), poke_text*() or
 * fork(). It decides where the thread goes on by setting the PC (and, say,
 * RSP to emulate a return) in @uc. If it leaves the PC at @addr, the
 * original instruction is emulated when x86insn_decode() knows it; when it
 * does not, the process is aborted (the handler broke its contract).
 */
typedef void (*poke_bp_handler_t)(void *addr, ucontext_t *uc);

/**
 * poke_init() - open /proc/self/mem, set up membarrier and the SIGTRAP handler
 *
 * Idempotent. Chooses how poke_sync_core() serializes other threads, in
 * order of preference: membarrier PRIVATE_EXPEDITED_SYNC_CORE, membarrier
 * PRIVATE_EXPEDITED, a TLB-shootdown IPI forced with mprotect(), a plain
 * full fence (the last three log a warning on stderr). Installs the SIGTRAP
 * handler with SA_SIGINFO | SA_NODEFER | SA_RESTART | SA_ONSTACK and
 * remembers the previous disposition, to which every SIGTRAP that is not
 * ours is passed:
 * - a handler is called (with its sa_mask, and SIGTRAP blocked unless it
 *   asked for SA_NODEFER);
 * - SIG_DFL or SIG_IGN, for an int3 that is not ours: the disposition is
 *   restored and the int3 re-executed, so the kernel does what it would
 *   have done without us (for a forced SIGTRAP, both mean a core dump);
 * - SIG_DFL for any other SIGTRAP: the disposition is restored and the
 *   signal raised again; SIG_IGN: the signal is ignored.
 * A child made by fork() gets its own /proc/self/mem descriptor (pthread_
 * atfork), and fork() waits for pokes in progress.
 *
 * Return: 0 or -errno (open(), sigaction() or pthread_atfork() failed).
 */
int poke_init(void);

/**
 * poke_fini() - undo poke_init() (for tests)
 *
 * Removes the permanent breakpoints still installed, restores the previous
 * SIGTRAP disposition and closes /proc/self/mem. Call it only when no other
 * thread is poking.
 */
void poke_fini(void);

/**
 * poke_text() - write code that no thread is executing
 * @addr:	where
 * @old:	the bytes expected at @addr
 * @new:	the bytes to write
 * @len:	their length
 *
 * For code no thread can be executing (a trampoline not yet published), or
 * a change of one byte (atomic for instruction fetch). Verifies the current
 * bytes and writes @new through /proc/self/mem. It does not sync: call
 * poke_sync_core() (once for a batch) before relying on other threads
 * executing @new.
 *
 * Return: 0; -EINVAL (a NULL pointer or @len 0); -EBADF (poke_init() not
 * called); -EBUSY (the range covers a breakpoint or a poke in progress);
 * -EILSEQ (the bytes at @addr are not @old; nothing written); -EIO or
 * another -errno from /proc/self/mem (the range may be partly written).
 */
int poke_text(void *addr, const void *old, const void *new, size_t len);

/**
 * poke_text_bp() - replace one instruction other threads may be executing
 * @addr:	the instruction's address
 * @old:	the instruction there now (@len bytes)
 * @new:	the instruction to install (@len bytes)
 * @len:	1..X86INSN_MAX_LEN
 *
 * The kernel's text_poke_bp() protocol. With the site registered for the
 * SIGTRAP handler (which emulates @new for any thread that traps on it):
 *
 *	@addr[0]           := cc			poke_sync_core()
 *	@addr[1..len-1]    := @new[1..len-1]		poke_sync_core()
 *	@addr[0]           := @new[0]			poke_sync_core()
 *
 * e.g. a 5-byte NOP to a jmp: 0f 1f 44 00 00 -> cc 1f 44 00 00 ->
 * cc XX XX XX XX -> e9 XX XX XX XX. The middle step is skipped when the
 * tails are equal. @old and @new must each be one instruction: @new must
 * start with one x86insn_decode() knows (other than int3), of length @len,
 * or shorter if it never continues after itself (jmp, ret: "e9 <rel32> 90"
 * over a 6-byte "ff 15 <disp32>"); @old, if x86insn_decode() knows it,
 * must obey the same rule (so five single-byte NOPs are refused: a thread
 * may be stopped between them). It is the first instruction of @new that
 * the SIGTRAP handler emulates.
 * If a write fails, the original is put back with the same protocol in
 * reverse. Concurrent callers are serialized.
 *
 * Return: 0; -EINVAL (bad arguments or instructions, nothing written);
 * -EBADF (poke_init() not called); -EBUSY (a breakpoint is in the range);
 * -ENOSPC (too many pokes and breakpoints at once); -EILSEQ (the bytes at
 * @addr are not @old, nothing written); -EIO or another -errno from
 * /proc/self/mem, after the original was restored (if even that failed, an
 * "uklp: poke:" message says so and the site stays trapped, every thread
 * reaching it being emulated as if it executed @new).
 */
int poke_text_bp(void *addr, const void *old, const void *new, size_t len);

/**
 * typedef poke_move_fn - where a thread parked in code being replaced goes
 * @arg:	the caller's argument to poke_text_bp_move()
 * @pc:		the thread's PC, inside the range being replaced
 *
 * Runs in signal context in the parked thread: async-signal-safe, no
 * locks.
 *
 * Return: the PC to continue at, or 0 to leave the thread where it is.
 */
typedef uintptr_t (*poke_move_fn)(void *arg, uintptr_t pc);

/**
 * poke_text_bp_move() - replace the first bytes of code threads may be
 *			 stopped inside of (a prologue site)
 * @addr:	the first byte
 * @old:	the bytes there now (@len), any instructions
 * @new:	the bytes to install (@len)
 * @len:	1..X86INSN_MAX_LEN
 * @trap_to:	where a thread that meets the transient int3 goes on: the
 *		code equivalent to what is being installed (a trampoline, or
 *		the relocated copy of @old)
 * @park_end:	threads whose PC is in (@addr, @park_end) are moved with
 *		@move before the tail is written; 0: none can be there
 * @move:	where such a thread goes (see poke_move_fn)
 * @arg:	its argument
 *
 * The int3 protocol of poke_text_bp() with one more step:
 *
 *	@addr[0]           := cc			poke_sync_core()
 *	move the threads parked in (@addr, @park_end)
 *	@addr[1..len-1]    := @new[1..len-1]		poke_sync_core()
 *	@addr[0]           := @new[0]			poke_sync_core()
 *
 * Once the cc is visible, no thread can enter @addr + 1 .. @park_end - 1
 * other than by being there already (the caller guarantees no other code
 * branches into the range). Each other thread that may be there gets a
 * real-time signal queued by rt_tgsigqueueinfo() with a cookie (not
 * SIGTRAP: the kernel would merge it with the int3's; the first call
 * takes the highest real-time signal whose disposition is the default,
 * -EAGAIN when there is none); its handler calls @move on its PC and
 * answers. A thread is asked only when
 * /proc/self/task/TID/syscall says it is runnable or its PC is in the
 * range (a thread asleep in a system call elsewhere is left alone). The
 * caller waits up to 2 s for the answers (a thread that exits answers by
 * going away).
 *
 * Return: 0; -EINVAL (bad arguments); -EBADF; -EBUSY; -ENOSPC; -EILSEQ
 * (nothing written); -ETIMEDOUT (a thread did not answer: the original
 * was put back, nothing changed); -EAGAIN (no real-time signal free, or
 * the queue of pending signals full: likewise); or an I/O -errno after
 * the original was restored.
 */
int poke_text_bp_move(void *addr, const void *old, const void *new, size_t len,
		      uintptr_t trap_to, uintptr_t park_end, poke_move_fn move,
		      void *arg);

/**
 * poke_moved_threads() - how many parked threads poke_text_bp_move() moved
 *
 * Return: the number of threads whose PC a move handler changed since the
 * process started (for tests).
 */
unsigned long poke_moved_threads(void);

/**
 * poke_sync_core() - make every thread execute a core-serializing instruction
 *
 * Pairs with the instruction fetch of the other threads: once it returns,
 * every thread of the process has executed a serializing instruction since
 * the caller's last code write (or will, before it next returns to user
 * space), so none can still execute stale prefetched instructions. Uses the
 * mechanism poke_init() chose (see there).
 */
void poke_sync_core(void);

/**
 * poke_bp_install() - set a permanent breakpoint (kprobe style)
 * @addr:	the first byte of an instruction
 * @handler:	called when a thread traps at @addr (see poke_bp_handler_t)
 *
 * Writes cc over @addr[0] (remembering the original byte) and syncs.
 *
 * Return: 0; -EINVAL (NULL argument); -EBADF (poke_init() not called);
 * -EEXIST (a breakpoint is set at @addr); -EBUSY (@addr is already an int3,
 * or in a poke in progress); -ENOSPC (too many pokes and breakpoints at
 * once); another -errno from /proc/self/mem.
 */
int poke_bp_install(void *addr, poke_bp_handler_t handler);

/**
 * poke_bp_remove() - remove a breakpoint set by poke_bp_install()
 * @addr:	its address
 *
 * Restores the original byte, syncs, and waits until no thread is still in
 * the breakpoint's handler. A thread that trapped just before the removal
 * but reaches the SIGTRAP handler after it re-executes the original
 * instruction without calling the handler.
 *
 * Return: 0; -EINVAL (NULL); -EBADF (poke_init() not called); -ENOENT (no
 * breakpoint at @addr); -EILSEQ (the int3 was overwritten by someone else:
 * the breakpoint is forgotten, nothing written); another -errno from
 * /proc/self/mem (the breakpoint stays).
 */
int poke_bp_remove(void *addr);

/**
 * poke_stats_traps() - how often a thread met the int3 of a poke_text_bp()
 *
 * Return: the number of traps on a poke in progress (emulated) or just
 * completed (re-executed) since the process started.
 */
unsigned long poke_stats_traps(void);

/**
 * poke_sync_method() - how poke_sync_core() works, for logs and tests
 *
 * Return: "membarrier-sync-core", "membarrier-expedited",
 * "mprotect-ipi", "fence" or "none" (before poke_init()).
 */
const char *poke_sync_method(void);

#endif /* UKLP_POKE_H */
