// SPDX-License-Identifier: MIT
/*
 * transition.c - the per-thread consistency model (the kernel's
 * kernel/livepatch/transition.c), threads instead of tasks.
 *
 * State of a thread: its TLS word (threads.h). init_transition starts a new
 * generation: every word becomes stale, which means "in the initial state",
 * exactly as the kernel sets every task->patch_state. A thread switches
 * itself (at a patched function's entry when its countdown runs out, or at
 * klp_update_patch_state()) when its own reliable stack holds no function
 * the transition replaces (klp_check_stack); the completer switches only
 * itself. klp_synchronize_transition() is an SRCU wait over every reader
 * of the transition's globals (the slow path and klp_update_patch_state()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "srcu.h"
#include "stackcheck.h"
#include "threads.h"
#include "toolif.h"
#include "uklp_api.h"

#define SWITCH_INTERVAL 256 /* calls of a patched function between tries */

struct klp_patch *klp_transition_patch;
int klp_target_state = KLP_UNDEFINED;

static uint32_t trans_gen = 1;
static int trans_initial = KLP_UNDEFINED;
static int trans_switching; /* the kernel's TIF_PATCH_PENDING for all */
static struct srcu trans_srcu = SRCU_INIT;
static struct stackcheck_range *ranges;
static size_t nranges, ranges_cap;
static int signals_cnt;

/* Tell the tool (common/uklp_abi.h) what the transition is now. */
static void publish(void)
{
	toolif_transition(
	    trans_gen, klp_target_state, trans_initial, trans_switching,
	    klp_transition_patch ? KLP_PATCH_P(klp_transition_patch)->name
				 : NULL,
	    ranges, klp_transition_patch ? nranges : 0);
}

/* Status for readers outside the process (the tool) and for `list`. */
pid_t klp_blocking_tid;
/* The runtime's own worker: it never runs a function being replaced while
 * it checks (the kernel's kworker is switched the same way, at once). */
pid_t klp_worker_tid;
const char *klp_blocking_func;

uint32_t klp_transition_gen(void)
{
	return __atomic_load_n(&trans_gen, __ATOMIC_ACQUIRE);
}

static const char *state_str(int s)
{
	return s == KLP_PATCHED ? "patching" : "unpatching";
}

static int word_state(uint32_t w)
{
	return THREAD_WORD_CURRENT(w, trans_gen) ? (int)(w & 1) : trans_initial;
}

static int add_range(uintptr_t start, uintptr_t size, const char *name)
{
	if (nranges == ranges_cap) {
		size_t c = ranges_cap ? ranges_cap * 2 : 64;
		struct stackcheck_range *n = realloc(ranges, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ranges = n;
		ranges_cap = c;
	}
	ranges[nranges].start = start;
	ranges[nranges].end = start + (size ? size : 1);
	ranges[nranges].name = name;
	nranges++;
	return 0;
}

/* The kernel's klp_check_stack_func() ranges, for the whole patch. */
static void build_ranges(void)
{
	struct klp_patch *patch = klp_transition_patch;
	struct klp_object *obj;
	struct klp_func *func;

	nranges = 0;
	klp_for_each_object (patch, obj, i) {
		if (!klp_is_object_loaded(obj))
			continue;
		klp_for_each_func (obj, func, k) {
			uintptr_t addr;
			unsigned long size;

			if (klp_target_state == KLP_UNPATCHED) {
				/* the to-be-unpatched function itself */
				addr = (uintptr_t)(func->nop ? func->old_func
							     : func->new_func);
				size =
				    func->nop ? func->old_size : func->new_size;
			} else {
				struct klp_func_priv *prev =
				    KLP_FUNC(func)->stack_next;

				if (!prev || prev->func->nop) {
					/* the original function */
					addr = (uintptr_t)func->old_func;
					size = func->old_size;
				} else {
					/* the previously patched function */
					addr = (uintptr_t)prev->func->new_func;
					size = prev->func->new_size;
				}
			}
			if (add_range(addr, size, func->old_name) < 0)
				pr_err(
				    "out of memory building the stack check");
		}
	}
	stackcheck_sort(ranges, nranges);
}

void klp_init_transition(struct klp_patch *patch, int state)
{
	struct klp_object *obj;
	struct klp_func *func;
	int initial = !state;

	klp_transition_patch = patch;
	/* Readers see the initial state before the new generation that makes
	 * every word stale (release; pairs with the acquire of trans_gen in
	 * klp_thread_state()). */
	trans_initial = initial;
	klp_target_state = state;
	pr_debug("'%s': initializing %s transition\n", KLP_PATCH_P(patch)->name,
		 state_str(state));
	__atomic_store_n(&trans_gen, trans_gen + 1, __ATOMIC_RELEASE);
	/* The kernel's smp_wmb() between the patch_state writes and the
	 * func->transition writes: the words are the generation above. */
	klp_for_each_object (patch, obj, i)
		klp_for_each_func (obj, func, k)
			func->transition = true;
	signals_cnt = 0;
	nranges = 0; /* built at start; the old ones name freed funcs */
	publish();
}

void klp_start_transition(void)
{
	struct klp_patch *patch = klp_transition_patch;

	pr_notice("'%s': starting %s transition\n", KLP_PATCH_P(patch)->name,
		  state_str(klp_target_state));
	build_ranges();
	/* Ranges and target before the flag (release; pairs with the
	 * acquire load of trans_switching by the self-switch paths). */
	__atomic_store_n(&trans_switching, 1, __ATOMIC_RELEASE);
	publish();
}

/*
 * Try to switch the calling thread (SRCU read side held, switching set):
 * @pcs is its reliable stack.
 */
static bool try_switch(const uintptr_t *pcs, size_t n)
{
	long hit = stackcheck_pcs(pcs, n, ranges, nranges);

	if (hit >= 0)
		return false;
	__atomic_store_n(&uklp_tls.word,
			 THREAD_WORD(trans_gen, klp_target_state),
			 __ATOMIC_RELEASE);
	return true;
}

/*
 * Make the calling thread's word current and registered; returns its
 * state. With @try, the registry lock is not waited for: *@regd is then
 * false when it was taken, and the word is left as it is (a stale word
 * means the initial state, for everyone: exactly what is returned; only a
 * registered thread's word is made current, so that force and completion,
 * which see registered words only, never miss a current one).
 */
static int materialize(bool try, bool *regd)
{
	uint32_t w = uklp_tls.word;
	/* The generation before the initial state that goes with it
	 * (acquire; pairs with the release of trans_gen in
	 * klp_init_transition(), which stores trans_initial first). */
	uint32_t gen = __atomic_load_n(&trans_gen, __ATOMIC_ACQUIRE);
	bool ok =
	    !(try ? threads_try_register_self() : threads_register_self());

	if (!THREAD_WORD_CURRENT(w, gen)) {
		w = THREAD_WORD(
		    gen, __atomic_load_n(&trans_initial, __ATOMIC_RELAXED));
		if (ok || !try)
			__atomic_store_n(&uklp_tls.word, w, __ATOMIC_RELEASE);
	}
	*regd = ok;
	return (int)(w & 1);
}

/*
 * Calls until the next self-switch try of a thread that could not switch:
 * SWITCH_INTERVAL, doubling with every failure in this transition up to
 * 2^20 calls, so that a thread stuck behind a long-running function does
 * not pay for an unwind every few hundred calls (the kernel retries once a
 * second).
 */
static int32_t switch_backoff(void)
{
	if (uklp_tls.fails_gen != trans_gen) {
		uklp_tls.fails_gen = trans_gen;
		uklp_tls.fails = 0;
	}
	if (uklp_tls.fails < 12)
		uklp_tls.fails++;
	return SWITCH_INTERVAL << uklp_tls.fails;
}

int klp_thread_state(struct hook_ops *ops, unsigned long ip,
		     struct tramp_regs *regs)
{
	unsigned idx = srcu_read_lock(&trans_srcu);
	int target = __atomic_load_n(&klp_target_state, __ATOMIC_ACQUIRE);
	bool regd;
	int st;

	(void)ops;
	st = materialize(true, &regd);
	if (regd && target != KLP_UNDEFINED && st != target &&
	    __atomic_load_n(&trans_switching, __ATOMIC_ACQUIRE)) {
		uintptr_t pcs[UNWIND_MAX_FRAMES];
		size_t n;

		/* Frame 0 is the entry being dispatched: it is not running
		 * yet, so only the frames above it count. */
		if (!unwind_entry(ip, regs, pcs, UNWIND_MAX_FRAMES, &n) && n &&
		    try_switch(pcs + 1, n - 1))
			st = target;
	}
	/* Not registered (the registry was busy): at the next call again. */
	uklp_tls.countdown = !regd ? 0
			     : (target == KLP_UNDEFINED || st == target)
				 ? INT32_MAX
				 : switch_backoff();
	srcu_read_unlock(&trans_srcu, idx);
	return st;
}

/* The calling thread, from its caller up; returns true when in target. */
static bool switch_self(int skip)
{
	unsigned idx = srcu_read_lock(&trans_srcu);
	int target = __atomic_load_n(&klp_target_state, __ATOMIC_ACQUIRE);
	bool done = true, regd;
	int st;

	if (target == KLP_UNDEFINED)
		goto out;
	st = materialize(false, &regd);
	if (st != target) {
		uintptr_t pcs[UNWIND_MAX_FRAMES];
		size_t n;

		done = false;
		if (__atomic_load_n(&trans_switching, __ATOMIC_ACQUIRE) &&
		    !unwind_self(skip + 1, pcs, UNWIND_MAX_FRAMES, &n))
			done = try_switch(pcs, n);
	}
	if (done)
		uklp_tls.countdown = INT32_MAX;
out:
	srcu_read_unlock(&trans_srcu, idx);
	return done;
}

/**
 * klp_switch_self_at_start() - switch the calling thread without a stack
 * check, when the process is still single-threaded before main()
 * (UKLP_LOAD); klp_mutex held
 */
void klp_switch_self_at_start(void)
{
	struct threads_entry *th = NULL;
	size_t n = 0;

	if (!klp_transition_patch || threads_snapshot(&th, &n) < 0)
		return;
	free(th);
	if (n != 1)
		return;
	threads_register_self();
	__atomic_store_n(&uklp_tls.word,
			 THREAD_WORD(trans_gen, klp_target_state),
			 __ATOMIC_RELEASE);
}

UKLP_API void klp_update_patch_state(void)
{
	if (__atomic_load_n(&klp_target_state, __ATOMIC_RELAXED) ==
	    KLP_UNDEFINED)
		return;
	switch_self(0);
}

static void klp_synchronize_transition(void)
{
	srcu_synchronize(&trans_srcu);
}

static void klp_complete_transition(void)
{
	struct klp_patch *patch = klp_transition_patch;
	struct klp_object *obj;
	struct klp_func *func;
	int target = klp_target_state;

	pr_debug("'%s': completing %s transition\n", KLP_PATCH_P(patch)->name,
		 state_str(target));
	__atomic_store_n(&trans_switching, 0, __ATOMIC_RELEASE);
	klp_synchronize_transition();

	if (patch->replace && target == KLP_PATCHED) {
		klp_unpatch_replaced_patches(patch);
		klp_discard_nops(patch);
	}
	if (target == KLP_UNPATCHED)
		klp_unpatch_objects(patch); /* hook layer syncs its readers */

	klp_for_each_object (patch, obj, i)
		klp_for_each_func (obj, func, k)
			func->transition = false;
	/* Back to one direct jump per site. */
	klp_sync_patch_ops(patch);
	__atomic_store_n(&klp_target_state, KLP_UNDEFINED, __ATOMIC_RELEASE);
	klp_synchronize_transition();

	klp_for_each_object (patch, obj, i) {
		if (!klp_is_object_loaded(obj))
			continue;
		if (target == KLP_PATCHED)
			klp_post_patch_callback(obj);
		else
			klp_post_unpatch_callback(obj);
	}
	pr_notice("'%s': %s complete\n", KLP_PATCH_P(patch)->name,
		  state_str(target));
	klp_transition_patch = NULL;
	klp_blocking_tid = 0;
	klp_blocking_func = NULL;
	nranges = 0;
	publish();
	klp_patch_done(patch);
}

void klp_cancel_transition(void)
{
	if (klp_target_state != KLP_PATCHED)
		return;
	pr_debug("'%s': canceling patching transition, going to unpatch\n",
		 KLP_PATCH_P(klp_transition_patch)->name);
	klp_target_state = KLP_UNPATCHED;
	klp_complete_transition();
}

bool klp_try_complete_transition(void)
{
	struct threads_entry *th = NULL;
	pid_t self = threads_gettid();
	bool complete = true;
	size_t n = 0;

	if (!klp_transition_patch)
		return true;
	if (threads_snapshot(&th, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		int st = th[i].known ? word_state(th[i].word) : trans_initial;

		if (st == klp_target_state || th[i].tid == klp_worker_tid)
			continue;
		if (th[i].tid == self && switch_self(0))
			continue;
		complete = false;
		klp_blocking_tid = th[i].tid;
		uklp_status.blocking_tid = th[i].tid;
		klp_blocking_func = NULL;
		break;
	}
	free(th);
	if (!complete) {
		if (++signals_cnt == 15 * 50) /* ~15 s of 20 ms retries */
			pr_notice("signaling remaining tasks\n");
		return false;
	}
	klp_complete_transition();
	return true;
}

void klp_reverse_transition(void)
{
	struct klp_patch *patch = klp_transition_patch;

	pr_debug("'%s': reversing transition from %s\n",
		 KLP_PATCH_P(patch)->name,
		 klp_target_state == KLP_PATCHED ? "patching to unpatching"
						 : "unpatching to patching");
	/* Stop self-switching and wait for threads in the middle of one. */
	__atomic_store_n(&trans_switching, 0, __ATOMIC_RELEASE);
	klp_synchronize_transition();
	patch->enabled = !patch->enabled;
	__atomic_store_n(&klp_target_state, !klp_target_state,
			 __ATOMIC_RELEASE);
	/* The other state is now the one the fast path serves. */
	klp_sync_patch_ops(patch);
	klp_start_transition();
}

void klp_force_transition(void)
{
	struct threads_entry *th = NULL;
	struct klp_patch *patch;
	size_t n = 0;

	pr_warn("forcing remaining tasks to the patched state\n");
	__atomic_store_n(&trans_switching, 0, __ATOMIC_RELEASE);
	klp_synchronize_transition();
	/* Unknown threads take the target; registered ones get it written. */
	trans_initial = klp_target_state;
	if (!threads_snapshot(&th, &n)) {
		for (size_t i = 0; i < n; i++)
			if (th[i].known)
				threads_set_word(
				    th[i].tid,
				    THREAD_WORD(trans_gen, klp_target_state));
		free(th);
	}
	if (klp_target_state == KLP_UNPATCHED) {
		klp_transition_patch->forced = true;
	} else if (klp_transition_patch->replace) {
		for (patch = klp_patches; patch;
		     patch = KLP_PATCH_P(patch)->next)
			if (patch != klp_transition_patch)
				patch->forced = true;
	}
	__atomic_store_n(&trans_switching, 1, __ATOMIC_RELEASE);
	publish();
}
