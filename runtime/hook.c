// SPDX-License-Identifier: MIT
/*
 * hook.c - sites, hook ops, filters and dispatch (user-space ftrace).
 *
 * A site, once made, lives as long as its object: its trampoline stays so
 * that a thread still on its way through an old jump always lands in valid
 * code. Arming and disarming only flip the entry (see site.c); everything
 * else is a store to the trampoline's data (see tramp.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uklp/livepatch.h>

#include "hook.h"
#include "objects.h"
#include "poke.h"
#include "srcu.h"
#include "tramp.h"

struct tracer_list {
	size_t n;
	struct hook_ops *ops[];
};

struct hook_site {
	uintptr_t ip;
	struct site_info si;
	struct tramp *tramp;
	struct hook_ops *ipmodify;
	struct tracer_list *tracers; /* read under hook_srcu */
	int armed;
	uintptr_t tgt_p, tgt_u; /* as the client gave them (0: original) */
	uintptr_t rtp, rtu;	/* resolved, read by the slow path */
	uint32_t gen;
	int transition;
	int target; /* the transition's target state */
	struct hook_site *next;
};

#define SITE_HASH 1024
static struct hook_site *site_hash[SITE_HASH];
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static struct srcu hook_srcu = SRCU_INIT;
static long n_sites, n_armed;

static unsigned hash_ip(uintptr_t ip)
{
	return (unsigned)((ip >> 4) ^ (ip >> 14)) % SITE_HASH;
}

static struct hook_site *site_find(uintptr_t ip)
{
	for (struct hook_site *s = site_hash[hash_ip(ip)]; s; s = s->next)
		if (s->ip == ip)
			return s;
	return NULL;
}

int hook_init(void)
{
	int ret = poke_init();

	if (ret)
		return ret;
	return tramp_init();
}

/*
 * Decode the site of the function at @addr: the compiler's records that
 * cover it, else its prologue (which needs the symbol's size, and whose
 * "f.cold" fragment, if any, must not jump into the displaced bytes).
 */
static int decode(uintptr_t addr, struct site_info *si)
{
	struct uklp_obj *o = objects_find_addr(addr);
	struct elfsym_sym sym, cold;
	struct elfsym_file *f;
	uintptr_t pfe = 0;
	size_t size = 0;
	uint64_t link;
	int mcount = 0, ret;

	if (!o) {
		objects_scan(NULL, NULL);
		o = objects_find_addr(addr);
	}
	if (!o || !(f = objects_elf(o)))
		return site_decode(addr, 0, 0, 0, si);
	link = addr - o->base;
	if (f->npfe) {
		size_t lo = 0, hi = f->npfe;

		while (lo < hi) { /* the last record <= link */
			size_t mid = lo + (hi - lo) / 2;

			if (f->pfe[mid] <= link)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo && link - f->pfe[lo - 1] <= 64)
			pfe = (uintptr_t)f->pfe[lo - 1] + o->base;
	}
	/* With -fcf-protection gcc records N,0 sites after the endbr64. */
	if (!pfe && !memcmp((const void *)addr, "\xf3\x0f\x1e\xfa", 4) &&
	    elfsym_has_entry(f->pfe, f->npfe, link + 4))
		pfe = addr;
	mcount = elfsym_has_entry(f->mcount, f->nmcount, link) ||
		 elfsym_has_entry(f->mcount, f->nmcount, link + 4);
	if (!elfsym_find_addr(f, link, &sym) && sym.value == link)
		size = sym.size;
	ret = site_decode(addr, pfe, mcount, size, si);
	if (ret || si->kind != SITE_PROLOGUE)
		return ret;
	char name[256];

	snprintf(name, sizeof(name), "%s.cold", sym.name);
	if (!elfsym_lookup(f, name, 0, &cold, NULL) && cold.size)
		ret = site_scan_more(si, (uintptr_t)cold.value + o->base,
				     cold.size);
	return ret;
}

int hook_location(uintptr_t addr, struct hook_loc *loc)
{
	struct site_info si;
	struct hook_site *s;
	int ret;

	pthread_mutex_lock(&hook_lock);
	s = site_find(addr);
	if (s) {
		loc->kind = s->si.kind;
		loc->reason = SITE_OK;
		loc->entry = s->si.entry;
		loc->why[0] = 0;
		pthread_mutex_unlock(&hook_lock);
		return 0;
	}
	ret = decode(addr, &si);
	pthread_mutex_unlock(&hook_lock);
	loc->kind = si.kind;
	loc->reason = si.reason;
	loc->entry = si.entry;
	snprintf(loc->why, sizeof(loc->why), "%s", ret ? site_why(&si) : "");
	return ret;
}

static uint64_t hook_c_slow(struct hook_site *s, struct tramp_regs *regs);
static void hook_c_ops(struct hook_site *s, struct tramp_regs *regs);

/* Find or make the site of @ip (hook_lock held). */
static int site_get(uintptr_t ip, struct hook_site **out)
{
	struct hook_site *s = site_find(ip);
	int ret;

	if (s) {
		*out = s;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ip = ip;
	ret = decode(ip, &s->si);
	if (ret)
		goto err;
	ret = site_prepare(&s->si);
	if (ret)
		goto err;
	s->tramp = tramp_alloc(site_jump_source(&s->si), (uint64_t)(uintptr_t)s,
			       (uint64_t)(uintptr_t)hook_c_slow,
			       (uint64_t)(uintptr_t)hook_c_ops, s->si.orig);
	if (!s->tramp) {
		s->si.reason = SITE_NO_MEMORY_NEAR;
		ret = -ENOSPC;
		goto err;
	}
	if (s->si.kind == SITE_PROLOGUE) {
		/* The relocated instructions go in the trampoline's slot. */
		ret = site_relocate(&s->si, (uintptr_t)s->tramp->copy);
		if (!ret)
			ret = tramp_set_copy(s->tramp, s->si.plan.copy,
					     s->si.plan.copy_len);
		if (ret) {
			tramp_free(s->tramp);
			goto err;
		}
	}
	s->next = site_hash[hash_ip(ip)];
	site_hash[hash_ip(ip)] = s;
	n_sites++;
	*out = s;
	return 0;
err:
	free(s);
	return ret;
}

/*
 * Make the trampoline's data say what the site's ops want, then arm or
 * disarm. The targets and words are stored before the mode that makes the
 * trampoline read them (release store of mode; the trampoline's jump
 * through mode and its later loads are ordered on x86, which pairs with it).
 */
static int site_update(struct hook_site *s)
{
	struct tramp_data *d = s->tramp->data;
	struct tracer_list *tl = s->tracers;
	int has_tr = tl && tl->n;
	uintptr_t orig = s->si.orig, tp = orig, tu = orig, mode;
	int trans = 0, ret = 0;

	if (s->ipmodify) {
		tp = s->tgt_p ? s->tgt_p : orig;
		tu = s->tgt_u ? s->tgt_u : orig;
		trans = s->transition;
	}
	uint32_t wu = THREAD_WORD(s->gen, KLP_UNPATCHED) & 7;

	__atomic_store_n(&s->rtp, tp, __ATOMIC_RELEASE);
	__atomic_store_n(&s->rtu, tu, __ATOMIC_RELEASE);
	/* Other generations' slots first: a thread with an old word must
	 * decide again (the slow path) before any target it could read
	 * changes meaning; then the current generation's targets. */
	for (uint32_t i = 0; i < 8; i++)
		if ((i & ~1u) != wu)
			__atomic_store_n(&d->slots[i], s->tramp->l_slow,
					 __ATOMIC_RELEASE);
	__atomic_store_n(&d->slots[wu | KLP_UNPATCHED], tu, __ATOMIC_RELEASE);
	__atomic_store_n(&d->slots[wu | KLP_PATCHED], tp, __ATOMIC_RELEASE);
	__atomic_store_n(&d->after_ops, trans ? s->tramp->l_dispatch : tp,
			 __ATOMIC_RELEASE);
	if (has_tr)
		mode = s->tramp->l_callops;
	else
		mode = trans ? s->tramp->l_dispatch : tp;
	__atomic_store_n(&d->mode, mode, __ATOMIC_RELEASE);

	if ((s->ipmodify || has_tr) && !s->armed) {
		ret = site_arm(&s->si, (uintptr_t)s->tramp->code);
		if (!ret) {
			s->armed = 1;
			n_armed++;
		}
	} else if (!s->ipmodify && !has_tr && s->armed) {
		ret = site_disarm(&s->si);
		if (!ret) {
			s->armed = 0;
			n_armed--;
		}
	}
	return ret;
}

static uint64_t hook_c_slow(struct hook_site *s, struct tramp_regs *regs)
{
	unsigned idx = srcu_read_lock(&hook_srcu);
	struct hook_ops *ops = __atomic_load_n(&s->ipmodify, __ATOMIC_ACQUIRE);
	int st = ops ? ops->state(ops, s->ip, regs) : KLP_PATCHED;
	uint64_t tgt = st == KLP_UNPATCHED
			   ? __atomic_load_n(&s->rtu, __ATOMIC_ACQUIRE)
			   : __atomic_load_n(&s->rtp, __ATOMIC_ACQUIRE);

	srcu_read_unlock(&hook_srcu, idx);
	return tgt;
}

static void hook_c_ops(struct hook_site *s, struct tramp_regs *regs)
{
	unsigned idx = srcu_read_lock(&hook_srcu);
	struct tracer_list *tl = __atomic_load_n(&s->tracers, __ATOMIC_ACQUIRE);

	for (size_t i = 0; tl && i < tl->n; i++)
		tl->ops[i]->func(s->ip, regs->ret, tl->ops[i], regs);
	srcu_read_unlock(&hook_srcu, idx);
}

int hook_set_filter_ip(struct hook_ops *ops, uintptr_t ip, int remove)
{
	if (ops->registered)
		return -EBUSY;
	for (size_t i = 0; i < ops->nfilter; i++) {
		if (ops->filter[i] == ip) {
			if (remove)
				ops->filter[i] = ops->filter[--ops->nfilter];
			return 0;
		}
	}
	if (remove)
		return -ENOENT;
	if (ops->nfilter == ops->cap) {
		size_t c = ops->cap ? ops->cap * 2 : 4;
		unsigned long *n = realloc(ops->filter, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ops->filter = n;
		ops->cap = c;
	}
	ops->filter[ops->nfilter++] = ip;
	return 0;
}

/* Replace the tracer list (hook_lock held); the old one is freed by the
 * caller after srcu_synchronize(). */
static int tracers_change(struct hook_site *s, struct hook_ops *ops, int add,
			  struct tracer_list **old)
{
	struct tracer_list *tl = s->tracers, *n;
	size_t cnt = tl ? tl->n : 0, k = 0;

	n = malloc(sizeof(*n) + (cnt + 1) * sizeof(n->ops[0]));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++)
		if (tl->ops[i] != ops)
			n->ops[k++] = tl->ops[i];
	if (add)
		n->ops[k++] = ops;
	n->n = k;
	__atomic_store_n(&s->tracers, n, __ATOMIC_RELEASE);
	*old = tl;
	return 0;
}

static void detach(struct hook_site *s, struct hook_ops *ops,
		   struct tracer_list **old)
{
	if (ops->flags & HOOK_OPS_FL_IPMODIFY) {
		if (s->ipmodify == ops) {
			__atomic_store_n(&s->ipmodify, NULL, __ATOMIC_RELEASE);
			s->tgt_p = s->tgt_u = 0;
			s->transition = 0;
		}
	} else {
		tracers_change(s, ops, 0, old);
	}
}

int hook_register_ops(struct hook_ops *ops)
{
	struct tracer_list **olds;
	size_t done = 0;
	int ret = 0;

	if (ops->registered)
		return -EBUSY;
	if ((ops->flags & HOOK_OPS_FL_IPMODIFY) ? !ops->state : !ops->func)
		return -EINVAL;
	olds = calloc(ops->nfilter + 1, sizeof(*olds));
	if (!olds)
		return -ENOMEM;
	pthread_mutex_lock(&hook_lock);
	/* Check everything first: nothing changes if a site is refused. */
	for (size_t i = 0; i < ops->nfilter; i++) {
		struct hook_site *s;

		ret = site_get(ops->filter[i], &s);
		if (ret)
			goto out;
		if ((ops->flags & HOOK_OPS_FL_IPMODIFY) && s->ipmodify) {
			ret = -EBUSY;
			goto out;
		}
	}
	for (done = 0; done < ops->nfilter; done++) {
		struct hook_site *s = site_find(ops->filter[done]);

		if (ops->flags & HOOK_OPS_FL_IPMODIFY) {
			s->tgt_p = s->tgt_u = 0;
			s->transition = 0;
			__atomic_store_n(&s->ipmodify, ops, __ATOMIC_RELEASE);
		} else {
			ret = tracers_change(s, ops, 1, &olds[done]);
			if (ret)
				goto rollback;
		}
		ret = site_update(s);
		if (ret) {
			detach(s, ops, &olds[done]);
			site_update(s);
			goto rollback;
		}
	}
	ops->registered = 1;
	goto out;
rollback:
	while (done-- > 0) {
		struct hook_site *s = site_find(ops->filter[done]);
		struct tracer_list *o = NULL;

		detach(s, ops, &o);
		site_update(s);
		free(o);
	}
out:
	pthread_mutex_unlock(&hook_lock);
	/*
	 * Wait for the readers (hook_c_slow/hook_c_ops) only when something
	 * they may still use is freed: replaced tracer lists, or, after a
	 * rollback, the ops itself (its caller frees it). A registration
	 * that replaced nothing frees nothing: livepatch registers one ops
	 * per function, and a grace period each made a 1000-function load
	 * wait for every preempted reader 1000 times.
	 */
	bool sync = ret != 0;

	for (size_t i = 0; i < ops->nfilter && !sync; i++)
		sync = olds[i] != NULL;
	if (sync)
		srcu_synchronize(&hook_srcu);
	for (size_t i = 0; i < ops->nfilter; i++)
		free(olds[i]);
	free(olds);
	return ret;
}

int hook_unregister_ops(struct hook_ops *ops)
{
	struct tracer_list **olds;
	int ret = 0;

	if (!ops->registered)
		return -EINVAL;
	olds = calloc(ops->nfilter + 1, sizeof(*olds));
	if (!olds)
		return -ENOMEM;
	pthread_mutex_lock(&hook_lock);
	for (size_t i = 0; i < ops->nfilter; i++) {
		struct hook_site *s = site_find(ops->filter[i]);
		int r;

		if (!s)
			continue;
		detach(s, ops, &olds[i]);
		r = site_update(s);
		if (r && !ret)
			ret = r;
	}
	ops->registered = 0;
	pthread_mutex_unlock(&hook_lock);
	/* No thread is inside ops->func/state any more after this. */
	srcu_synchronize(&hook_srcu);
	for (size_t i = 0; i < ops->nfilter; i++)
		free(olds[i]);
	free(olds);
	return ret;
}

int hook_set_dispatch(struct hook_ops *ops, uintptr_t ip, uintptr_t tgt_p,
		      uintptr_t tgt_u, uint32_t gen, int transition, int target)
{
	struct hook_site *s;
	int ret;

	pthread_mutex_lock(&hook_lock);
	s = site_find(ip);
	if (!s || s->ipmodify != ops) {
		pthread_mutex_unlock(&hook_lock);
		return -EINVAL;
	}
	s->tgt_p = tgt_p;
	s->tgt_u = tgt_u;
	s->gen = gen;
	s->transition = transition;
	s->target = target;
	ret = site_update(s);
	pthread_mutex_unlock(&hook_lock);
	return ret;
}

void hook_forget_range(uintptr_t start, uintptr_t end)
{
	pthread_mutex_lock(&hook_lock);
	for (unsigned h = 0; h < SITE_HASH; h++) {
		for (struct hook_site **pp = &site_hash[h]; *pp;) {
			struct hook_site *s = *pp;

			if (s->ip < start || s->ip >= end) {
				pp = &s->next;
				continue;
			}
			*pp = s->next;
			if (s->armed)
				n_armed--;
			n_sites--;
			tramp_free(s->tramp);
			free(s->tracers);
			free(s);
		}
	}
	pthread_mutex_unlock(&hook_lock);
}

void hook_stats(long *sites, long *armed, long *tramps)
{
	pthread_mutex_lock(&hook_lock);
	*sites = n_sites;
	*armed = n_armed;
	pthread_mutex_unlock(&hook_lock);
	*tramps = tramp_count(NULL);
}
