/* SPDX-License-Identifier: MIT */
/*
 * srcu - a minimal sleepable-RCU for the runtime: readers never block,
 * srcu_synchronize() waits until every reader that might have seen the old
 * state has left. Prefix: srcu_.
 *
 * A reader preempted inside its section holds up every grace period until
 * it runs again, which with hundreds of busy threads per CPU can be a
 * whole scheduling round (0.3-0.9 s measured). Each thread counts the
 * sections it is inside in its TLS (uklp_tls.readers, a plain store: no
 * one relies on it for correctness), where the tool, waiting for a
 * transition to complete, finds such readers and gives them a CPU.
 */
#ifndef UKLP_SRCU_H
#define UKLP_SRCU_H

#include "backoff.h"
#include "threads.h"

struct srcu {
	unsigned long cnt[2];
	unsigned int idx;
};

#define SRCU_INIT                                                              \
	{                                                                      \
		{0, 0}, 0                                                      \
	}

static inline unsigned int srcu_read_lock(struct srcu *s)
{
	unsigned int i = __atomic_load_n(&s->idx, __ATOMIC_RELAXED) & 1;

	/* Full barrier: the reader's later loads are ordered after the
	 * increment; pairs with the writer's flip + counter load in
	 * srcu_synchronize(). */
	uklp_tls.readers++;
	__atomic_add_fetch(&s->cnt[i], 1, __ATOMIC_SEQ_CST);
	return i;
}

static inline void srcu_read_unlock(struct srcu *s, unsigned int i)
{
	/* Release: the reader's accesses happen before the writer sees 0. */
	__atomic_sub_fetch(&s->cnt[i], 1, __ATOMIC_RELEASE);
	uklp_tls.readers--;
}

/*
 * srcu_synchronize() - wait for pre-existing readers
 *
 * The writer's stores before the call are seen by every reader that enters
 * after the call returns; a reader that entered before has left. Readers
 * that enter during the call use the other counter, so they cannot starve
 * the writer.
 */
static inline void srcu_synchronize(struct srcu *s)
{
	unsigned int old = __atomic_load_n(&s->idx, __ATOMIC_RELAXED) & 1;
	unsigned int n = 0;

	/* Seq-cst flip pairs with srcu_read_lock()'s seq-cst increment. */
	__atomic_store_n(&s->idx, old ^ 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&s->cnt[old], __ATOMIC_ACQUIRE))
		backoff_wait(&n);
	/* A reader that read the old idx before the flip and increments
	 * only now entered after our load of its counter in the seq-cst
	 * order, so it sees every store made before this call. */
}

#endif
