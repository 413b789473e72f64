// SPDX-License-Identifier: MIT
/*
 * switch.c - the tool's share of the consistency model (DESIGN.md 5).
 *
 * One pass looks at each thread of the target once: stop it (it alone),
 * read its patch-state word from its TLS, and if it is not yet in the
 * transition's target state, unwind it and apply klp_check_stack: with no
 * forbidden function on its stack (its current PC included) its word is
 * written and the thread is recorded in the tool thread table, where the
 * runtime's completion check finds it. Then the thread goes on. A thread
 * is never waited for while stopped: a blocked thread is reported and
 * looked at again in the next pass. The runtime completes the transition
 * by itself once every thread is switched (its worker polls); the tool
 * only watches uklp_status for that.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uklp/livepatch.h>

#include "ptrace.h"
#include "stackcheck.h"
#include "step.h"
#include "switch.h"
#include "threads.h"
#include "unwind.h"

#define SEQ_TRIES	 10000	    /* reads of an odd or moving seq */
#define PASS_RESTARTS	 100	    /* passes restarted by a status change */
#define MAX_RANGES	 (1u << 20) /* sanity bound on nranges */
#define COMPLETE_POLL_MS 100	    /* watch for completion before a new pass */

/* A consistent copy of the transition state. */
struct snap {
	struct uklp_status st;
	uintptr_t addr;
	struct uklp_abi_range *raw;
	struct stackcheck_range *r;
	size_t nr;
};

/* The tool thread table of the target, read once per pass. */
struct ttab {
	struct uklp_abi_thread *e;
	uintptr_t addr;
};

/* What a pass saw, besides the report. */
struct pass_info {
	char patch[UKLP_ABI_NAME_MAX];
	int blocker_is_func; /* blocker_func names a function */
	int started;	     /* threads may switch (status.switching) */
};

/* When the process view was last read again. */
static struct {
	pid_t pid;
	uint64_t at_ns;
	int needed; /* an unwind met a PC in no known object */
} refresh_state;

#define REFRESH_NS 1000000000ull /* at least this often anyway */

/* Where uklp_status is, per process and runtime mapping. */
static struct {
	pid_t pid;
	uintptr_t base;
	uintptr_t addr;
} st_cache;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = {
	    .tv_sec = (time_t)(us / 1000000),
	    .tv_nsec = (long)(us % 1000000) * 1000,
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int status_addr(struct proc *p, uintptr_t *addr)
{
	struct proc_obj *o = proc_find_obj(p, "libuklp.so");
	int ret;

	if (!o)
		return -ENOENT;
	if (st_cache.pid == p->pid && st_cache.base == o->start &&
	    st_cache.addr) {
		*addr = st_cache.addr;
		return 0;
	}
	ret = proc_sym(p, "libuklp.so", UKLP_ABI_STATUS_SYMBOL, addr);
	if (ret < 0)
		return ret;
	st_cache.pid = p->pid;
	st_cache.base = o->start;
	st_cache.addr = *addr;
	return 0;
}

static int read_seq(struct proc *p, uintptr_t addr, uint64_t *seq)
{
	return proc_read(p, addr + offsetof(struct uklp_status, seq), seq,
			 sizeof(*seq));
}

static void snap_free(struct snap *s)
{
	free(s->raw);
	free(s->r);
	s->raw = NULL;
	s->r = NULL;
	s->nr = 0;
}

/* One try of snap_read(): 0, 1 (read again), or -errno. */
static int snap_try(struct proc *p, struct snap *s, int ranges)
{
	struct uklp_status *st = &s->st;
	uint64_t seq, seq2;
	size_t n;
	int ret;

	ret = proc_read(p, s->addr, st, sizeof(*st));
	if (ret < 0)
		return ret;
	if (st->magic != UKLP_ABI_STATUS_MAGIC ||
	    st->version != UKLP_ABI_VERSION)
		return -EPROTO;
	seq = st->seq;
	n = ranges ? (size_t)st->nranges : 0;
	if ((seq & 1) || n > MAX_RANGES)
		return 1;
	if (n) {
		s->raw = malloc(n * sizeof(*s->raw));
		s->r = malloc(n * sizeof(*s->r));
		if (!s->raw || !s->r)
			return -ENOMEM;
		ret = proc_read(p, (uintptr_t)st->ranges_addr, s->raw,
				n * sizeof(*s->raw));
		if (ret == -EFAULT)
			return 1; /* read while being replaced */
		if (ret < 0)
			return ret;
	}
	ret = read_seq(p, s->addr, &seq2);
	if (ret < 0)
		return ret;
	if (seq2 != seq)
		return 1;
	st->transition_patch[sizeof(st->transition_patch) - 1] = '\0';
	for (size_t i = 0; i < n; i++) {
		s->raw[i].name[sizeof(s->raw[i].name) - 1] = '\0';
		s->r[i].start = (uintptr_t)s->raw[i].start;
		s->r[i].end = (uintptr_t)s->raw[i].end;
		s->r[i].name = s->raw[i].name;
	}
	s->nr = n;
	if (n)
		stackcheck_sort(s->r, n);
	return 0;
}

/*
 * Read uklp_status (and with @ranges the forbidden ranges) under its seq:
 * again while the runtime is writing it. snap_free() it.
 */
static int snap_read(struct proc *p, struct snap *s, int ranges)
{
	int ret;

	memset(s, 0, sizeof(*s));
	ret = status_addr(p, &s->addr);
	if (ret < 0)
		return ret;
	for (int tries = 0; tries < SEQ_TRIES; tries++) {
		ret = snap_try(p, s, ranges);
		if (ret <= 0)
			break;
		snap_free(s);
		if (tries > 100)
			sleep_us(10);
		ret = -EAGAIN;
	}
	if (ret < 0)
		snap_free(s);
	return ret;
}

/**
 * switch_read_status() - read uklp_status from the target
 * @p:		the process view (the runtime must be loaded)
 * @st:		out
 * @st_addr:	out (optional): its address in the target
 *
 * The transition fields are a consistent copy (read under @seq).
 *
 * Return: 0, -ENOENT (no runtime), -EPROTO (wrong magic or version),
 * -EAGAIN (the runtime kept changing it), or -errno.
 */
int switch_read_status(struct proc *p, struct uklp_status *st,
		       uintptr_t *st_addr)
{
	struct snap s;
	int ret = snap_read(p, &s, 0);

	if (ret < 0)
		return ret;
	*st = s.st;
	if (st_addr)
		*st_addr = s.addr;
	return 0;
}

static int tid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

static int ttab_load(struct proc *p, struct ttab *t, uintptr_t addr)
{
	size_t len = UKLP_ABI_TOOL_THREADS * sizeof(*t->e);
	int ret;

	t->addr = addr;
	t->e = malloc(len);
	if (!t->e)
		return -ENOMEM;
	ret = proc_read(p, addr, t->e, len);
	if (ret < 0) {
		free(t->e);
		t->e = NULL;
	}
	return ret;
}

/*
 * Record @tid's word address in the table: its own entry, a free one, or
 * one of a thread that no longer exists (@tids, sorted). The address goes
 * first: the runtime trusts an entry once it sees the tid.
 */
static int ttab_record(struct proc *p, struct ttab *t, const pid_t *tids,
		       size_t ntids, pid_t tid, uintptr_t word_addr)
{
	const size_t tid_off = offsetof(struct uklp_abi_thread, tid);
	const size_t addr_off = offsetof(struct uklp_abi_thread, word_addr);
	struct uklp_abi_thread *e = NULL;
	int32_t zero = 0, tid32 = (int32_t)tid;
	uint64_t wa = word_addr;
	uintptr_t at;
	int ret;

	for (size_t i = 0; i < UKLP_ABI_TOOL_THREADS; i++)
		if (t->e[i].tid == tid) {
			if (t->e[i].word_addr == wa)
				return 0;
			e = &t->e[i];
			break;
		}
	for (size_t i = 0; !e && i < UKLP_ABI_TOOL_THREADS; i++)
		if (!t->e[i].tid)
			e = &t->e[i];
	for (size_t i = 0; !e && i < UKLP_ABI_TOOL_THREADS; i++)
		if (!bsearch(&t->e[i].tid, tids, ntids, sizeof(*tids), tid_cmp))
			e = &t->e[i];
	if (!e)
		return -ENOSPC;
	at = t->addr + (uintptr_t)(e - t->e) * sizeof(*e);
	if (e->tid) {
		ret = proc_write(p, at + tid_off, &zero, sizeof(zero));
		if (ret < 0)
			return ret;
		e->tid = 0;
	}
	ret = proc_write(p, at + addr_off, &wa, sizeof(wa));
	step("switch: recorded its word address");
	if (ret < 0)
		return ret;
	e->word_addr = wa;
	ret = proc_write(p, at + tid_off, &tid32, sizeof(tid32));
	step("switch: recorded its tid");
	if (ret < 0)
		return ret;
	e->tid = tid32;
	return 0;
}

static void set_blocker(struct switch_report *r, struct pass_info *pi,
			pid_t tid, int is_func, const char *what)
{
	if (r->blocker)
		return;
	r->blocker = tid;
	pi->blocker_is_func = is_func;
	snprintf(r->blocker_func, sizeof(r->blocker_func), "%s", what);
}

static int add_pause(uint64_t **pauses_ns, size_t *npauses, uint64_t ns)
{
	uint64_t *n;

	if (!pauses_ns || !npauses)
		return 0;
	n = realloc(*pauses_ns, (*npauses + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	n[(*npauses)++] = ns;
	*pauses_ns = n;
	return 0;
}

/*
 * A thread that exited but stays listed: a main thread that called
 * pthread_exit() while others run. It cannot be traced (EPERM).
 */
static int is_zombie(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *s;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
		 (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	s = strrchr(buf, ')'); /* after the command name */
	return s && s[1] == ' ' && (s[2] == 'Z' || s[2] == 'X');
}

enum { ONE_OK, ONE_RESTART };

/* The runtime's own registry mirror, read once per pass (see ttab). */
static struct uklp_abi_thread *regtab;

/* Is @tid known (registry or tool table) with a word in the target state? */
static int word_in_target(struct proc *p, const struct snap *s,
			  const struct ttab *tt, pid_t tid)
{
	const struct uklp_status *st = &s->st;
	const struct uklp_abi_thread *tabs[2] = {regtab, tt ? tt->e : NULL};

	for (int k = 0; k < 2; k++) {
		if (!tabs[k])
			continue;
		for (size_t i = 0; i < UKLP_ABI_TOOL_THREADS; i++) {
			uint32_t w;

			if (tabs[k][i].tid != tid)
				continue;
			if (proc_read(p, (uintptr_t)tabs[k][i].word_addr, &w,
				      sizeof(w)) < 0)
				break;
			if (THREAD_WORD_CURRENT(w, st->gen) &&
			    (int)(w & 1) == st->target)
				return 1;
			break;
		}
	}
	return 0;
}

/*
 * One thread: stop, look, maybe switch, resume. Returns ONE_OK,
 * ONE_RESTART (the transition changed under us: pass again) or -errno.
 */
static int one_thread(struct proc *p, struct snap *s, struct ttab *tt,
		      const pid_t *tids, size_t ntids, pid_t tid,
		      struct switch_report *r, struct pass_info *pi,
		      uint64_t **pauses_ns, size_t *npauses)
{
	static uintptr_t pcs[UNWIND_MAX_FRAMES];
	const struct uklp_status *st = &s->st;
	int outcome = ONE_OK;
	struct pt_thread t;
	uintptr_t word_addr;
	uint64_t pause;
	uint32_t word;
	int ret, state;
	size_t npcs;
	long hit;

	/* A thread whose word the runtime or an earlier pass told us about
	 * and that is in the target state already needs no stop. */
	if (word_in_target(p, s, tt, tid)) {
		r->threads++;
		r->switched++;
		return ONE_OK;
	}
	ret = pt_stop(tid, &t);
	step("switch: stopped a thread");
	if (ret == -ESRCH)
		return ONE_OK; /* gone: not a thread any more */
	r->threads++;
	if (ret == -EPERM && !is_zombie(p->pid, tid))
		return ret;
	if (ret < 0) {
		char why[64];

		snprintf(why, sizeof(why), "%s",
			 ret == -EPERM	 ? "exited, not reaped"
			 : ret == -EBUSY ? "traced by another process"
					 : strerror(-ret));
		set_blocker(r, pi, tid, 0, why);
		return ONE_OK;
	}
	word_addr = (uintptr_t)t.regs.fs_base + (uintptr_t)st->tls_word_off;
	if (proc_read(p, word_addr, &word, sizeof(word)) < 0) {
		set_blocker(r, pi, tid, 0, "patch state unreadable");
		goto resume;
	}
	state =
	    THREAD_WORD_CURRENT(word, st->gen) ? (int)(word & 1) : st->initial;
	if (state == st->target) {
		r->switched++;
		goto resume;
	}
	ret = unwind_remote_regs(p, &t.regs, pcs, UNWIND_MAX_FRAMES, &npcs);
	step("switch: unwound it");
	if (ret < 0) {
		/* Perhaps a library loaded since: look again next pass. */
		if (ret == -ENOENT)
			refresh_state.needed = 1;
		set_blocker(r, pi, tid, 0, "unreliable stack");
		goto resume;
	}
	/* Frame 0 is where the thread is now: it counts. */
	hit = stackcheck_pcs(pcs, npcs, s->r, s->nr);
	if (hit >= 0) {
		set_blocker(r, pi, tid, 1, s->r[hit].name);
		goto resume;
	}
	ret = ttab_record(p, tt, tids, ntids, tid, word_addr);
	if (ret < 0) {
		set_blocker(r, pi, tid, 0,
			    ret == -ENOSPC ? "tool thread table full"
					   : "tool thread table unwritable");
		goto resume;
	}
	/* The decision holds only for the transition it was made for. */
	{
		uint64_t seq;

		if (read_seq(p, s->addr, &seq) < 0 || seq != st->seq) {
			outcome = ONE_RESTART;
			goto resume;
		}
	}
	word = THREAD_WORD(st->gen, st->target);
	if (proc_write(p, word_addr, &word, sizeof(word)) < 0) {
		set_blocker(r, pi, tid, 0, "patch state unwritable");
		goto resume;
	}
	step("switch: wrote its patch state");
	r->switched++;
resume:
	pt_resume(&t); /* -ESRCH: it died stopped; nothing to undo */
	step("switch: let it go");
	pause = pt_paused_ns(&t);
	if (pause > r->max_pause_ns)
		r->max_pause_ns = pause;
	if (add_pause(pauses_ns, npauses, pause) < 0)
		return -ENOMEM;
	return outcome;
}

/* One pass: ONE_OK, ONE_RESTART or -errno; @r and @pi filled. */
static int pass_once(struct proc *p, struct switch_report *r,
		     uint64_t **pauses_ns, size_t *npauses,
		     struct pass_info *pi)
{
	struct ttab tt = {0};
	pid_t *tids = NULL;
	size_t ntids = 0;
	struct snap s;
	int ret;

	ret = snap_read(p, &s, 1);
	if (ret < 0)
		return ret;
	snprintf(pi->patch, sizeof(pi->patch), "%s", s.st.transition_patch);
	ret = proc_tids(p->pid, &tids, &ntids);
	if (ret < 0)
		goto out;
	if (s.st.target == KLP_UNDEFINED) {
		r->done = 1;
		r->threads = r->switched = ntids;
		goto out;
	}
	pi->started = s.st.switching;
	if (!s.st.switching) {
		/* Between init and start (or reversing, forcing,
		 * completing): the ranges are not there yet. */
		r->threads = ntids;
		goto out;
	}
	qsort(tids, ntids, sizeof(*tids), tid_cmp);
	ret = unwind_prepare(p);
	if (!ret)
		ret = ttab_load(p, &tt, (uintptr_t)s.st.tool_threads_addr);
	free(regtab);
	regtab = NULL;
	if (!ret && s.st.registry_addr) {
		size_t len = UKLP_ABI_TOOL_THREADS * sizeof(*regtab);

		regtab = malloc(len);
		if (regtab && proc_read(p, (uintptr_t)s.st.registry_addr,
					regtab, len) < 0) {
			free(regtab);
			regtab = NULL;
		}
	}
	for (size_t i = 0; !ret && i < ntids; i++)
		ret = one_thread(p, &s, &tt, tids, ntids, tids[i], r, pi,
				 pauses_ns, npauses);
out:
	free(tt.e);
	free(tids);
	snap_free(&s);
	return ret;
}

static int pass(struct proc *p, struct switch_report *r, uint64_t **pauses_ns,
		size_t *npauses, struct pass_info *pi)
{
	uint64_t max_pause = 0;
	int ret;

	/* Libraries loaded since (the patch itself) are needed for their
	 * CFI; reading the maps costs ~1 ms: not at every pass. */
	if (refresh_state.pid != p->pid || refresh_state.needed ||
	    now_ns() - refresh_state.at_ns > REFRESH_NS) {
		ret = proc_refresh(p);
		if (ret < 0)
			return ret;
		refresh_state.pid = p->pid;
		refresh_state.at_ns = now_ns();
		refresh_state.needed = 0;
	}
	for (int restarts = 0; restarts <= PASS_RESTARTS; restarts++) {
		memset(r, 0, sizeof(*r));
		memset(pi, 0, sizeof(*pi));
		r->max_pause_ns = max_pause;
		ret = pass_once(p, r, pauses_ns, npauses, pi);
		if (ret != ONE_RESTART)
			return ret < 0 ? ret : 0;
		max_pause = r->max_pause_ns;
	}
	return -EAGAIN;
}

/**
 * switch_pass() - one pass: try to switch every thread not yet switched
 * @p:		the process view (read again now and then: proc_refresh())
 * @r:		out: what it found
 * @pauses_ns:	optional: each stop's duration is appended here
 * @npauses:	in/out: count (capacity is the caller's business: realloc'ed)
 *
 * Each thread is stopped once, alone, for as long as it takes to read its
 * word, unwind it and perhaps write its word. A thread that cannot switch
 * is reported in @r (the first one found), never waited for.
 *
 * Return: 0, -ENOENT (no runtime), -EPROTO, -ESRCH (the process is gone),
 * -EPERM, -EAGAIN (the transition kept changing during the pass), or
 * -errno.
 */
int switch_pass(struct proc *p, struct switch_report *r, uint64_t **pauses_ns,
		size_t *npauses)
{
	struct pass_info pi;

	return pass(p, r, pauses_ns, npauses, &pi);
}

static void print_progress(const struct switch_report *r,
			   const struct pass_info *pi)
{
	char what[160];

	if (!pi->started)
		snprintf(what, sizeof(what),
			 "waiting for the transition to start");
	else if (r->blocker)
		snprintf(what, sizeof(what), "waiting for thread %d (%s%s)",
			 (int)r->blocker, pi->blocker_is_func ? "in " : "",
			 r->blocker_func);
	else if (r->switched == r->threads)
		snprintf(what, sizeof(what),
			 "waiting for the runtime to complete");
	else
		snprintf(what, sizeof(what), "waiting");
	fprintf(stderr, "uklp: patch '%s': threads switched %zu/%zu, %s\n",
		pi->patch, r->switched, r->threads, what);
}

/* Watch uklp_status until the runtime completed (1), @until_ns (0). */
static int watch_complete(struct proc *p, uint64_t until_ns)
{
	while (now_ns() < until_ns) {
		struct uklp_status st;
		int ret;

		sleep_us(1000);
		ret = switch_read_status(p, &st, NULL);
		if (ret == -EAGAIN)
			continue;
		if (ret < 0)
			return ret;
		if (st.target == KLP_UNDEFINED || !st.transition_patch[0])
			return 1;
	}
	return 0;
}

/**
 * switch_wait() - passes until the transition is done or @timeout_ms
 * @p:		the process view
 * @timeout_ms:	negative: forever
 * @progress:	print "threads switched N/M, waiting for thread TID (in
 *		FUNC)" lines on stderr, once a second after the first second
 * @r:		out: the last pass's report
 *
 * Passes are 1 ms apart, growing to 50 ms while nothing moves. Once every
 * thread is switched, the runtime's worker completes the transition by
 * itself (it polls): this only watches uklp_status for it.
 *
 * Return: 0 when done, -ETIMEDOUT (@r says who blocks), or -errno.
 */
int switch_wait(struct proc *p, int timeout_ms, int progress,
		struct switch_report *r)
{
	const uint64_t start = now_ns();
	const uint64_t deadline =
	    timeout_ms < 0 ? UINT64_MAX
			   : start + (uint64_t)timeout_ms * 1000000ull;
	uint64_t next_print = start + 1000000000ull;
	uint64_t delay_us = 1000;
	size_t last_switched = 0;
	struct pass_info pi;
	int ret;

	for (;;) {
		uint64_t now;

		ret = pass(p, r, NULL, NULL, &pi);
		if (ret < 0 && ret != -EAGAIN)
			return ret; /* -EAGAIN: the state kept moving; again */
		if (r->done)
			return 0;
		if (r->switched > last_switched)
			delay_us = 1000; /* progress: look again soon */
		last_switched = r->switched;
		if (pi.started && r->threads && r->switched == r->threads) {
			/* The runtime's worker completes within ~20 ms. */
			uint64_t until =
			    now_ns() + COMPLETE_POLL_MS * 1000000ull;

			ret = watch_complete(p, until < deadline ? until
								 : deadline);
			if (ret < 0)
				return ret;
			if (ret) {
				r->done = 1;
				return 0;
			}
		}
		now = now_ns();
		if (progress && now >= next_print) {
			print_progress(r, &pi);
			next_print = now + 1000000000ull;
		}
		if (now >= deadline)
			return -ETIMEDOUT;
		if (deadline - now < delay_us * 1000)
			sleep_us((deadline - now) / 1000 + 1);
		else
			sleep_us(delay_us);
		delay_us = delay_us * 2 > 50000 ? 50000 : delay_us * 2;
	}
}
