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
 *
 * Threads known switched (the runtime's registry mirror or the tool
 * table) are not stopped. The others are stopped sleeping ones first
 * (state S: they stop as soon as they get a CPU), then the running ones
 * (by then many have switched themselves, at a patched function's entry;
 * the registry is read again every 10 ms for them). Up to SWITCH_WINDOW
 * threads are interrupted at a time (PTRACE_INTERRUPT, each SCHED_FIFO
 * until it is let go, tool/prio.h): boosted so, an interrupted thread
 * takes its trap within microseconds even behind hundreds of busy
 * threads, so one at a time is enough (with nice -20 each waited for a
 * tick or more, and 4 at a time overlapped those waits). Each stop is
 * handled alone and the thread let go before the tool looks at anything
 * else; with more than one in flight, a thread that stopped while the
 * tool was busy with another one would wait for that one: 1000 threads,
 * p99 pause 95-108 us with 1 in flight, 208-327 us with 4 (bench/, one
 * session). Never are all threads stopped: at most SWITCH_WINDOW at a
 * time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uklp/livepatch.h>

#include "inject.h"
#include "prio.h"
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
#define SWITCH_WINDOW	 1	    /* threads being stopped at a time */
#define REGTAB_RELOAD_NS 10000000ull /* registry read again (running ones) */

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
	    st->version != UKLP_ABI_STATUS_VERSION)
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

/* The state letter of a thread in /proc (R, S, D, T, t, Z, X...), or 0. */
static char task_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *s;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
		 (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	s = strrchr(buf, ')'); /* after the command name */
	return s && s[1] == ' ' ? s[2] : 0;
}

/*
 * A thread that exited but stays listed: a main thread that called
 * pthread_exit() while others run. It cannot be traced (EPERM).
 */
static int is_zombie(pid_t pid, pid_t tid)
{
	char c = task_state(pid, tid);

	return c == 'Z' || c == 'X';
}

enum { ONE_OK, ONE_RESTART };

/* Where a thread's word is, by tid: a table of the target, indexed. */
struct widx {
	const struct uklp_abi_thread *tab;
	uint32_t *by_tid; /* indexes of tab's used entries, sorted by tid */
	size_t n;
};

/* The runtime's own registry mirror, read once per pass (see ttab), and
 * the index of it and of the tool table. */
static struct uklp_abi_thread *regtab;
static struct widx widx[2];

static const struct uklp_abi_thread *widx_tab;

static int widx_cmp(const void *a, const void *b)
{
	const struct uklp_abi_thread *x = &widx_tab[*(const uint32_t *)a];
	const struct uklp_abi_thread *y = &widx_tab[*(const uint32_t *)b];

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	/* The first entry of a tid comes first, as a linear scan finds it. */
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static void widx_build(struct widx *w, const struct uklp_abi_thread *tab)
{
	free(w->by_tid);
	memset(w, 0, sizeof(*w));
	if (!tab)
		return;
	w->by_tid = malloc(UKLP_ABI_TOOL_THREADS * sizeof(*w->by_tid));
	if (!w->by_tid)
		return; /* then nothing is known: every thread is stopped */
	w->tab = tab;
	for (uint32_t i = 0; i < UKLP_ABI_TOOL_THREADS; i++)
		if (tab[i].tid)
			w->by_tid[w->n++] = i;
	widx_tab = tab;
	qsort(w->by_tid, w->n, sizeof(*w->by_tid), widx_cmp);
}

/* The first entry of @tid in @w's table (still @tid now), or NULL. */
static const struct uklp_abi_thread *widx_find(const struct widx *w, pid_t tid)
{
	size_t lo = 0, hi = w->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->tab[w->by_tid[mid]].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < w->n; lo++) {
		const struct uklp_abi_thread *e = &w->tab[w->by_tid[lo]];

		if (e->tid == tid)
			return e; /* the tool table may change: check */
		if (e->tid > tid || !e->tid)
			break;
	}
	return NULL;
}

/* Is @tid known (registry or tool table) with a word in the target state? */
static int word_in_target(struct proc *p, const struct snap *s, pid_t tid)
{
	const struct uklp_status *st = &s->st;

	for (int k = 0; k < 2; k++) {
		const struct uklp_abi_thread *e = widx_find(&widx[k], tid);
		uint32_t w;

		if (!e ||
		    proc_read(p, (uintptr_t)e->word_addr, &w, sizeof(w)) < 0)
			continue;
		if (THREAD_WORD_CURRENT(w, st->gen) &&
		    (int)(w & 1) == st->target)
			return 1;
	}
	return 0;
}

/* Read the registry mirror again (threads register as they switch). */
static void regtab_load(struct proc *p, const struct snap *s)
{
	size_t len = UKLP_ABI_TOOL_THREADS * sizeof(*regtab);

	if (!regtab && s->st.registry_addr)
		regtab = malloc(len);
	if (regtab &&
	    (!s->st.registry_addr ||
	     proc_read(p, (uintptr_t)s->st.registry_addr, regtab, len) < 0)) {
		free(regtab);
		regtab = NULL;
	}
	widx_build(&widx[0], regtab);
}

/* What one pass works on. */
struct pass_ctx {
	struct proc *p;
	struct snap *s;
	struct ttab *tt;
	const pid_t *tids; /* sorted */
	size_t ntids;
	struct switch_report *r;
	struct pass_info *pi;
	uint64_t **pauses_ns;
	size_t *npauses;
};

/*
 * Start stopping @tid (pt_interrupt()) unless it is known switched.
 * Returns 1 (@t is on its way to a stop), 0 (nothing to wait for), or
 * -errno.
 */
static int begin_thread(struct pass_ctx *c, pid_t tid, struct pt_thread *t)
{
	struct switch_report *r = c->r;
	int ret;

	/* A thread whose word the runtime or an earlier pass told us about
	 * and that is in the target state already needs no stop. */
	if (word_in_target(c->p, c->s, tid)) {
		r->threads++;
		r->switched++;
		return 0;
	}
	ret = pt_interrupt(tid, t);
	step("switch: interrupted a thread");
	if (ret == -ESRCH)
		return 0; /* gone: not a thread any more */
	if (!ret)
		return 1;
	r->threads++;
	if (ret == -EPERM && !is_zombie(c->p->pid, tid))
		return ret;
	{
		char why[64];

		snprintf(why, sizeof(why), "%s",
			 ret == -EPERM	 ? "exited, not reaped"
			 : ret == -EBUSY ? "traced by another process"
					 : strerror(-ret));
		set_blocker(r, c->pi, tid, 0, why);
	}
	return 0;
}

/* Let a stopped thread go and count its pause. 0 or -ENOMEM. */
static int end_thread(struct pass_ctx *c, struct pt_thread *t)
{
	uint64_t pause;

	pt_resume(t); /* -ESRCH: it died stopped; nothing to undo */
	step("switch: let it go");
	pause = pt_paused_ns(t);
	if (pause > c->r->max_pause_ns)
		c->r->max_pause_ns = pause;
	return add_pause(c->pauses_ns, c->npauses, pause);
}

/*
 * Threads let go with their boost kept (see finish_thread()): their own
 * nice value is put back at the start of the next pass, or when the wait
 * ends.
 */
static struct prio_saved *linger;
static size_t nlinger, linger_cap;

static void linger_release(void)
{
	for (size_t i = 0; i < nlinger; i++)
		prio_restore(&linger[i]);
	nlinger = 0;
}

/* Let @t go keeping its boost; 0 or -ENOMEM (then it is let go without). */
static int end_thread_linger(struct pass_ctx *c, struct pt_thread *t)
{
	int ret;

	if (nlinger == linger_cap) {
		size_t cap = linger_cap ? linger_cap * 2 : 64;
		struct prio_saved *n = realloc(linger, cap * sizeof(*n));

		if (n) {
			linger = n;
			linger_cap = cap;
		}
	}
	if (nlinger < linger_cap && t->prio.tid) {
		/* Not real time while it runs its own code. */
		prio_soften(&t->prio);
		t->keep_prio = 1;
	}
	ret = end_thread(c, t);
	if (t->keep_prio)
		linger[nlinger++] = t->prio;
	t->keep_prio = 0;
	return ret;
}

/*
 * A stopped thread: look, maybe switch, resume. Returns ONE_OK,
 * ONE_RESTART (the transition changed under us: pass again) or -errno.
 */
static int finish_thread(struct pass_ctx *c, struct pt_thread *t)
{
	static uintptr_t pcs[UNWIND_MAX_FRAMES];
	const struct uklp_status *st = &c->s->st;
	struct user_regs_struct stub_regs;
	struct switch_report *r = c->r;
	struct pass_info *pi = c->pi;
	struct proc *p = c->p;
	pid_t tid = t->tid;
	int outcome = ONE_OK, busy = 0;
	uintptr_t word_addr;
	uint32_t word;
	int ret, state;
	size_t npcs;
	long hit;

	r->threads++;
	word_addr = (uintptr_t)t->regs.fs_base + (uintptr_t)st->tls_word_off;
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
	/* A thread back from a hijacked call may sit in the restore stub
	 * (finishing its sleep there): its call chain is the one the stub
	 * returns to. */
	if (inject_stub_regs(p, &t->regs, &stub_regs))
		stub_regs = t->regs;
	ret = unwind_remote_regs(p, &stub_regs, pcs, UNWIND_MAX_FRAMES, &npcs);
	step("switch: unwound it");
	if (ret < 0) {
		/* Perhaps a library loaded since: look again next pass. */
		if (ret == -ENOENT)
			refresh_state.needed = 1;
		set_blocker(r, pi, tid, 0, "unreliable stack");
		busy = 1;
		goto resume;
	}
	/* Frame 0 is where the thread is now: it counts. */
	hit = stackcheck_pcs(pcs, npcs, c->s->r, c->s->nr);
	if (hit >= 0) {
		set_blocker(r, pi, tid, 1, c->s->r[hit].name);
		busy = 1;
		goto resume;
	}
	ret = ttab_record(p, c->tt, c->tids, c->ntids, tid, word_addr);
	if (ret < 0) {
		set_blocker(r, pi, tid, 0,
			    ret == -ENOSPC ? "tool thread table full"
					   : "tool thread table unwritable");
		goto resume;
	}
	/* The decision holds only for the transition it was made for. */
	{
		uint64_t seq;

		if (read_seq(p, c->s->addr, &seq) < 0 || seq != st->seq) {
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
	/*
	 * A thread that was running (not in a system call) and could not be
	 * switched is most likely preempted where it was caught (inside a
	 * trampoline, or in the function being replaced): stopping it again
	 * finds it there until it has run. It keeps its boost until the next
	 * pass, so that it moves on (and, calling a patched function, often
	 * switches itself) instead of waiting a scheduling round.
	 */
	if (busy && !t->in_syscall ? end_thread_linger(c, t) < 0
				   : end_thread(c, t) < 0)
		return -ENOMEM;
	return outcome;
}

/* A thread to look at, and whether it sleeps (in a system call, most
 * likely): those are stopped first. */
struct cand {
	pid_t tid;
	int sleeping;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->sleeping != y->sleeping)
		return x->sleeping ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/*
 * The threads of the pass, in the order they are stopped: sleeping
 * threads first (each takes its trap as soon as it gets a CPU, and needs
 * one short stop), then the others. Those that run the patched code
 * switch themselves meanwhile (the runtime's registry says so, read again
 * before them). NULL when out of memory.
 */
static struct cand *candidates(struct pass_ctx *c, size_t *n)
{
	struct cand *cd = malloc((c->ntids ? c->ntids : 1) * sizeof(*cd));

	*n = 0;
	if (!cd)
		return NULL;
	for (size_t i = 0; i < c->ntids; i++) {
		/* The runtime's worker runs no patched code; the runtime's
		 * completion does not wait for it either. */
		if (c->tids[i] == c->s->st.worker_tid ||
		    word_in_target(c->p, c->s, c->tids[i])) {
			c->r->threads++;
			c->r->switched++;
			continue;
		}
		cd[*n].tid = c->tids[i];
		cd[*n].sleeping = task_state(c->p->pid, c->tids[i]) == 'S';
		(*n)++;
	}
	qsort(cd, *n, sizeof(*cd), cand_cmp);
	return cd;
}

/*
 * Stop, look at and let go of each thread of @cd, up to SWITCH_WINDOW of
 * them interrupted at a time. A thread that has stopped is handled (and
 * let go) before anything else is done, and another thread is
 * interrupted only when none is waiting: the threads that stopped while
 * the tool was busy with one wait for that one only, never all of them.
 */
static int switch_threads(struct pass_ctx *c, const struct cand *cd, size_t n)
{
	struct pt_thread slot[SWITCH_WINDOW];
	struct pt_thread *fly[SWITCH_WINDOW];
	int used[SWITCH_WINDOW] = {0};
	size_t next = 0, nfly = 0;
	int outcome = ONE_OK, draining = 0;
	uint64_t reread_ns = 0;

	for (;;) {
		int more = !draining && next < n, ret;
		size_t w, k;

		if (!nfly && !more)
			break;
		/* The threads in flight, in slot order. */
		for (k = 0, w = 0; k < SWITCH_WINDOW; k++)
			if (used[k])
				fly[w++] = &slot[k];
		/* Block only when nothing else can be done. */
		ret = nfly ? pt_wait_any(fly, nfly, &w,
					 !more || nfly == SWITCH_WINDOW)
			   : -EAGAIN;
		if (ret == -EAGAIN) {
			if (!cd[next].sleeping &&
			    pt_now_ns() - reread_ns > REGTAB_RELOAD_NS) {
				/* Running threads last, and the registry
				 * read again now and then: they switch
				 * themselves meanwhile. */
				regtab_load(c->p, c->s);
				reread_ns = pt_now_ns();
			}
			for (k = 0; used[k]; k++)
				;
			ret = begin_thread(c, cd[next++].tid, &slot[k]);
			if (ret < 0) {
				outcome = ret;
				draining = 1;
			} else if (ret) {
				used[k] = 1;
				nfly++;
			}
			continue;
		}
		if (ret == -ENOENT)
			break; /* cannot happen: each is in flight */
		k = (size_t)(fly[w] - slot);
		used[k] = 0;
		nfly--;
		step("switch: stopped a thread");
		if (ret == -ESRCH)
			continue; /* gone: not a thread any more */
		if (ret < 0) {
			c->r->threads++;
			set_blocker(c->r, c->pi, slot[k].tid, 0,
				    strerror(-ret));
			continue;
		}
		if (draining) {
			/* The pass ends: let it go, unlooked at. */
			c->r->threads++;
			if (end_thread(c, &slot[k]) < 0 && outcome >= 0)
				outcome = -ENOMEM;
			continue;
		}
		ret = finish_thread(c, &slot[k]);
		if (ret != ONE_OK) {
			outcome = ret;
			draining = 1;
		}
	}
	return outcome;
}

/* One pass: ONE_OK, ONE_RESTART or -errno; @r and @pi filled. */
static int pass_once(struct proc *p, struct switch_report *r,
		     uint64_t **pauses_ns, size_t *npauses,
		     struct pass_info *pi)
{
	struct ttab tt = {0};
	struct cand *cd = NULL;
	pid_t *tids = NULL;
	size_t ntids = 0, ncd = 0;
	struct pass_ctx c;
	struct snap s;
	int ret;

	linger_release(); /* those of the previous pass: they had their go */
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
	if (ret)
		goto out;
	regtab_load(p, &s);
	widx_build(&widx[1], tt.e);
	c = (struct pass_ctx){
	    .p = p,
	    .s = &s,
	    .tt = &tt,
	    .tids = tids,
	    .ntids = ntids,
	    .r = r,
	    .pi = pi,
	    .pauses_ns = pauses_ns,
	    .npauses = npauses,
	};
	cd = candidates(&c, &ncd);
	if (!cd) {
		ret = -ENOMEM;
		goto out;
	}
	ret = switch_threads(&c, cd, ncd);
out:
	widx_build(&widx[1], NULL);
	free(cd);
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
 * Each thread is stopped once, for as long as it takes to read its word,
 * unwind it and perhaps write its word (see the top of the file for how
 * many are on their way to a stop at once). A thread that cannot switch
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
	int ret = pass(p, r, pauses_ns, npauses, &pi);

	linger_release();
	return ret;
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

/* @tid is a thread of @p (its status is the target's to write). */
static int is_thread_of(const struct proc *p, pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)p->pid, (int)tid);
	return tid > 0 && !access(path, F_OK);
}

/* Readers given the boost at once, and for how long (they need 1-2 us). */
#define HELP_MAX      64
#define HELP_US	      200
#define HELP_EVERY_NS 5000000ull

/* Boost the threads of @tab (@n entries) that are inside a read section. */
static void help_table(struct proc *p, const struct uklp_status *st,
		       const struct uklp_abi_thread *tab, size_t n,
		       struct prio_saved *help, size_t *nhelp)
{
	for (size_t i = 0; i < n && *nhelp < HELP_MAX; i++) {
		uint32_t readers;
		uintptr_t at;

		if (tab[i].tid <= 0 || !tab[i].word_addr)
			continue;
		at = (uintptr_t)tab[i].word_addr - (uintptr_t)st->tls_word_off +
		     (uintptr_t)st->tls_readers_off;
		if (proc_read(p, at, &readers, sizeof(readers)) < 0 ||
		    !readers || !is_thread_of(p, tab[i].tid))
			continue;
		prio_boost(tab[i].tid, &help[*nhelp]);
		if (help[*nhelp].tid)
			(*nhelp)++;
	}
}

/*
 * The runtime's completion waits for the SRCU readers of the transition
 * (runtime/srcu.h): a busy thread preempted inside one holds it up until
 * its next turn on a CPU, a whole scheduling round with hundreds of busy
 * threads (0.3 s measured). Give each thread that is inside a read section
 * now (its TLS says so) the boost for HELP_US: it runs at once and leaves.
 */
static void help_readers(struct proc *p, const struct snap *s)
{
	struct prio_saved help[HELP_MAX];
	size_t nhelp = 0;
	struct ttab tt = {0};

	if (s->st.tls_readers_off) {
		regtab_load(p, s);
		if (regtab)
			help_table(p, &s->st, regtab, UKLP_ABI_TOOL_THREADS,
				   help, &nhelp);
		if (!ttab_load(p, &tt, (uintptr_t)s->st.tool_threads_addr))
			help_table(p, &s->st, tt.e, UKLP_ABI_TOOL_THREADS, help,
				   &nhelp);
	}
	if (nhelp) {
		step("complete: readers boosted");
		sleep_us(HELP_US);
	}
	for (size_t i = 0; i < nhelp; i++)
		prio_restore(&help[i]);
	free(tt.e);
}

/* The target's uklp_status as it is, seq or not: for the fields the
 * runtime sets once (the worker's tid, the tables, the TLS offsets). */
static int raw_status(struct proc *p, struct snap *raw)
{
	int ret;

	memset(raw, 0, sizeof(*raw));
	ret = status_addr(p, &raw->addr);
	if (!ret)
		ret = proc_read(p, raw->addr, &raw->st, sizeof(raw->st));
	return ret < 0 ? ret : 0;
}

/**
 * switch_help_readers() - give a CPU to the target's threads that are
 * inside one of the runtime's SRCU read sections
 * @p:		the process view (the runtime must be loaded)
 *
 * For the tool's waits for the runtime (a call, the completion): the
 * runtime's grace periods wait for those readers, and a reader preempted
 * inside one waits a whole scheduling round for its turn. Each gets the
 * boost for HELP_US.
 */
void switch_help_readers(struct proc *p)
{
	struct snap raw;

	if (!raw_status(p, &raw))
		help_readers(p, &raw);
}

/*
 * The runtime's worker completes a transition at its next poll once every
 * thread has switched, if it gets a CPU: it has the boost while the tool
 * waits (else with 500 busy threads it waited 0.4-0.9 s for its turn,
 * and once preempted inside publish() kept uklp_status's seq odd as
 * long). It polls every 20 ms, and runs ~0.1 ms then.
 */
static void boost_worker(struct proc *p, struct prio_saved *worker)
{
	struct snap raw;

	if (worker->tid || raw_status(p, &raw) < 0)
		return;
	if (is_thread_of(p, raw.st.worker_tid))
		prio_boost(raw.st.worker_tid, worker);
}

/*
 * Watch uklp_status until the runtime completed (1), @until_ns (0); now
 * and then give the readers the worker's grace period waits for a CPU
 * (help_readers()).
 */
static int watch_complete(struct proc *p, uint64_t until_ns)
{
	uint64_t helped_ns = now_ns();
	int ret = 0;

	while (now_ns() < until_ns) {
		struct uklp_status st;

		sleep_us(1000);
		if (now_ns() - helped_ns > HELP_EVERY_NS) {
			switch_help_readers(p);
			helped_ns = now_ns();
		}
		ret = switch_read_status(p, &st, NULL);
		if (ret == -EAGAIN) {
			ret = 0;
			continue;
		}
		if (ret < 0)
			return ret;
		if (st.target == KLP_UNDEFINED || !st.transition_patch[0])
			return 1;
	}
	return 0;
}

/* switch_wait() but for the boosts left to threads by its passes and
 * the worker's (@worker). */
static int wait_passes(struct proc *p, int timeout_ms, int progress,
		       struct switch_report *r, struct prio_saved *worker)
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

		boost_worker(p, worker);
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
	struct prio_saved worker = {.slot = -1};
	int ret = wait_passes(p, timeout_ms, progress, r, &worker);

	prio_restore(&worker);
	linger_release();
	return ret;
}
