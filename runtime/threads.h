/* SPDX-License-Identifier: MIT */
/*
 * threads - per-thread patch state (the kernel's task->patch_state) and the
 * registry of threads the runtime has seen. Prefix: threads_.
 *
 * A thread's state lives in its own TLS (initial-exec, so a trampoline reads
 * it with one %fs-relative load) as one word: (transition generation << 1)
 * | state bit. A word of another generation means "not looked at in this
 * transition": the thread is in the transition's initial state, as the
 * kernel's klp_init_transition() sets every task. Only the thread itself,
 * or the tool while the thread is stopped, writes its word.
 */
#ifndef UKLP_THREADS_H
#define UKLP_THREADS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uklp_tls {
	uint32_t word;	   /* THREAD_WORD(gen, KLP_PATCHED/KLP_UNPATCHED) */
	int32_t countdown; /* calls left before the next self-switch try */
	uint32_t regd_gen; /* registry generation this thread registered in */
	int32_t tid;
	uint32_t fails; /* failed self-switch tries in generation fails_gen */
	uint32_t fails_gen;
	/* SRCU read sections this thread is inside (srcu.h): the tool reads
	 * it to find the preempted readers a grace period waits for */
	uint32_t readers;
};

extern __thread struct uklp_tls uklp_tls
    __attribute__((tls_model("initial-exec")));

/* Offsets from the thread pointer (%fs base), for trampolines and the tool. */
extern long threads_tls_word_off;
extern long threads_tls_countdown_off;
extern long threads_tls_readers_off;

/* Where words of threads that never registered can be found (the tool's
 * table, toolif.c); NULL when nothing else knows about threads. */
extern int (*threads_unregistered_word)(pid_t tid, uint32_t *word);
/* Told of each registration (@word set) and exit (@word NULL). */
extern void (*threads_registry_hook)(pid_t tid, uint32_t *word);

/**
 * threads_init() - compute the TLS offsets and create the thread-exit key
 *
 * Return: 0 or -errno.
 */
int threads_init(void);

/**
 * threads_register_self() - make the calling thread visible to the registry
 *
 * Cheap after the first call in a thread.
 *
 * Return: 0, or -ENOMEM (the thread stays unregistered).
 */
int threads_register_self(void);

/**
 * threads_try_register_self() - threads_register_self(), but without
 * waiting for the registry lock
 *
 * For the dispatcher's slow path: with more runnable threads than CPUs, a
 * lock holder that is preempted would make every thread that calls a
 * patched function wait for a scheduling round (and the tool cannot check
 * a thread waiting there: the trampoline has no CFI).
 *
 * Return: 0, -EBUSY (the lock is taken: try again later), or -ENOMEM.
 */
int threads_try_register_self(void);

/* One entry of threads_snapshot(). */
struct threads_entry {
	pid_t tid;
	int known; /* registered: @word is its word */
	uint32_t word;
};

/**
 * threads_snapshot() - every thread of the process, with registered words
 * @out:	allocated array (free() it)
 * @n:		its length
 *
 * Threads come from /proc/self/task; the registry fills in the words of the
 * threads that registered.
 *
 * Return: 0 or -errno.
 */
int threads_snapshot(struct threads_entry **out, size_t *n);

/**
 * threads_set_word() - write a registered thread's word (force)
 * @tid:	thread
 * @word:	new word
 *
 * Return: 0, or -ESRCH when @tid is not registered.
 */
int threads_set_word(pid_t tid, uint32_t word);

/**
 * threads_gettid() - the calling thread's id, cached in its TLS
 *
 * Return: the tid.
 */
pid_t threads_gettid(void);

/* Saved by a trampoline's slow path, lowest address first (see tramp.c). */
struct tramp_regs {
	uint64_t rbp, r15, r14, r13, r12, rbx, r11, r10, r9, r8, rcx, rdx, rsi,
	    rdi, rax;
	uint64_t ret; /* the patched function's return address (entry rsp) */
};

#define UNWIND_MAX_FRAMES 256

/**
 * unwind_entry() - unwind the calling thread as it was at a function entry
 * @func:	the entered function's address (frame 0's PC)
 * @regs:	registers saved by the trampoline at that entry
 * @pcs:	out: PCs, frame 0 first
 * @max:	room in @pcs
 * @n:		out: frames stored
 *
 * Return: 0 when the unwind is reliable (every frame has CFI and it ends at
 * the thread's start), -EAGAIN otherwise ("not now", never "clean").
 */
int unwind_entry(uintptr_t func, const struct tramp_regs *regs, uintptr_t *pcs,
		 size_t max, size_t *n);

/**
 * unwind_self() - unwind the calling thread from its caller up
 * @skip:	frames to drop besides unwind_self's own
 * @pcs:	out: PCs
 * @max:	room
 * @n:		out: frames stored
 *
 * Return: 0 when reliable, -EAGAIN otherwise.
 */
int unwind_self(int skip, uintptr_t *pcs, size_t max, size_t *n);

/**
 * unwind_init() - do libunwind's one-time set-up now
 *
 * Called by the runtime's constructor, on one thread: otherwise the first
 * self-switch tries of a transition do it, every thread of the process
 * queued on libunwind's initialization lock.
 */
void unwind_init(void);

/*
 * A thread word: the transition generation, a "set" bit (a zeroed word of a
 * new thread is never current) and the state. The trampoline indexes its
 * target table with the low 3 bits: generation parity, set bit, state.
 */
#define THREAD_WORD(gen, state) (((uint32_t)(gen) << 2) | 2u | ((state)&1))
#define THREAD_WORD_CURRENT(w, gen)                                            \
	(((w) >> 2) == ((gen)&0x3fffffffu) && ((w)&2))

#endif
