// SPDX-License-Identifier: MIT
/*
 * pausebench.c - how long `uklp load` stops each thread of a target, and
 * how long it takes, against a stop-the-world load of the same patch into
 * the same target (bench/tool/run.sh runs it; bench/tool/tool.mk builds it).
 *
 *   tool-pausebench [-s] [-r RUNS] [-t DEADLINE_S] [-m METHODS]
 *                   [-o RAWDIR] [-u UKLP] TARGET LIBUKLP PATCH NTHREADS
 *
 * Each run starts a fresh TARGET NTHREADS (bench/tool/target.c), lets it
 * run 100 ms, loads PATCH into it with one method, and kills it (SIGKILL,
 * reaped; PR_SET_PDEATHSIG should this program die). METHODS
 * (comma-separated, default "uklp,stw") take turns, their order alternating
 * from run to run. uklp and stw run in a child process that is killed at
 * the run's deadline (-t, default 60 s; the kernel then detaches whatever
 * it held); what it measured so far is in shared memory.
 *
 *   uklp  what `uklp load PID PATCH` does (tool/cmd_load.c), with the
 *         tool's own code linked in (its objects but main.o):
 *         inject_runtime(), inject_tool_call(UKLP_OP_LOAD), switch_wait().
 *         Every stop of a thread ends in pt_resume(): the program is linked
 *         with -Wl,--wrap=pt_resume, and logs each stop's pt_paused_ns()
 *         (the trap seen by the tool to the detach: what the tool itself
 *         reports; a thread that stopped while the tool was busy with
 *         another one counts from the last time the tool looked for it)
 *         and its seize-to-resume time (PTRACE_SEIZE issued to the
 *         detach: it adds the wait for a preempted thread to be scheduled
 *         and take the trap). Like the commands, it gives itself nice -20
 *         when permitted (tool/prio.h).
 *   stw   what user-space patchers that stop the world do, with the same
 *         machinery, in its best case: stop every thread at once
 *         (PTRACE_SEIZE + PTRACE_INTERRUPT to all, then collect the traps),
 *         unwind each and check that none is inside a function the patch
 *         replaces (if one is: let all go, wait 2 ms, try again), then with
 *         all of them still stopped make one thread (the main thread) load
 *         the runtime and the patch (inject_call_on() of dlopen and of
 *         uklp_tool_call), switch every held thread from the tool (as
 *         switch.c does, without letting it go), stop the loading thread
 *         again and switch it, wait until the runtime's worker completes
 *         the transition, and only then let every thread go. A thread's
 *         pause is from its trap (as collected) to its detach; the loading
 *         thread's from its first trap to its last detach (it runs the
 *         patcher's calls, not its own code, in between).
 *   cli   the real command: fork+exec UKLP load PID PATCH, wall time; with
 *         UKLP_TOOL_PAUSES=FILE in its environment: if the tool appends its
 *         stops there (one duration in ns a line), they are reported.
 *
 * Output: one line per method on stdout,
 *   RESULT method=M threads=N funcs=F runs=R ok=K timeouts=T ...
 * (keys in print_result()); with -o, RAWDIR/METHOD.pauses ("NS PHASE RUN"
 * a line; PHASE 0: a stop of the runtime's injection, 1: of the load
 * call's injection, 2: of a switch pass, 3: a stw hold, 4: cli) and
 * RAWDIR/METHOD.runs (one line per run). Exit status 1 when a run failed
 * (one past its deadline is not a failure: it is reported as such).
 *
 * -s prints each numbered point of the tool's work (tool/step.h, wrapped
 * too: --wrap=step) on stderr with the time since the previous one: where
 * the time of a stop goes ("search: thread stopped" to "hijack: detached").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uklp/livepatch.h>

#include "elfsym.h"
#include "inject.h"
#include "prio.h"
#include "proc.h"
#include "ptrace.h"
#include "stackcheck.h"
#include "switch.h"
#include "uklp_abi.h"
#include "unwind.h"

#define SPAWN_TIMEOUT_MS 30000
#define WARMUP_MS	 100
#define STW_RETRY_US	 2000
#define MAX_FRAMES	 256
#define TOOL_NFUNCS	 1000
#define RTLD_NOW_	 0x2
#define RTLD_GLOBAL_	 0x100

/* Same encoding as runtime/threads.h. */
#define WORD(gen, state)     (((uint32_t)(gen) << 2) | 2u | ((state)&1))
#define WORD_CURRENT(w, gen) (((w) >> 2) == ((gen)&0x3fffffffu) && ((w)&2))

struct vec {
	uint64_t *v;
	size_t n, cap;
};

static void vpush(struct vec *v, uint64_t x)
{
	if (v->n == v->cap) {
		size_t c = v->cap ? v->cap * 2 : 256;
		uint64_t *n = realloc(v->v, c * sizeof(*n));

		if (!n) {
			perror("pausebench: realloc");
			exit(1);
		}
		v->v = n;
		v->cap = c;
	}
	v->v[v->n++] = x;
}

static int u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted vector (0 when empty). */
static uint64_t pct(const struct vec *v, double p)
{
	size_t k;

	if (!v->n)
		return 0;
	k = (size_t)(p / 100.0 * (double)v->n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > v->n)
		k = v->n;
	return v->v[k - 1];
}

static uint64_t now_ns(void)
{
	return pt_now_ns();
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * What one run measured, in memory shared with the measuring child (it may
 * be killed at the deadline: what it logged so far stays readable).
 */
#define MAX_STOPS (1u << 20)

struct run {
	int ok;
	int timed_out;	    /* killed at the deadline */
	uint64_t total_ns;  /* start to transition complete */
	uint64_t inject_ns; /* runtime injected and ready */
	uint64_t call_ns;   /* the load call answered */
	uint64_t caught_ns; /* stw: every thread stopped and checked */
	size_t threads;	    /* threads the last pass saw (uklp), held (stw) */
	int tries;	    /* stw: attempts to catch every thread outside */
	char err[256];
};

struct shared {
	struct run res;
	volatile size_t n; /* stops logged */
	uint64_t pause[MAX_STOPS];
	uint64_t seize[MAX_STOPS]; /* 0: not known */
	uint8_t phase[MAX_STOPS];
};

static struct shared *sh;
static int g_timeout_ms = 60000; /* -t: a run's deadline */

static void log_stop(uint64_t pause, uint64_t seize, int phase)
{
	size_t i = sh->n;

	if (i >= MAX_STOPS)
		return;
	sh->pause[i] = pause;
	sh->seize[i] = seize;
	sh->phase[i] = (uint8_t)phase;
	__atomic_store_n(&sh->n, i + 1, __ATOMIC_RELEASE);
}

/* ---- every stop of the tool's code: --wrap=pt_resume ---- */

int __real_pt_resume(struct pt_thread *t);
int __wrap_pt_resume(struct pt_thread *t);
void __real_step(const char *what);
void __wrap_step(const char *what);

static int g_steps; /* -s: print the tool's steps with their times */

/* With -s: "+US step" on stderr, the time since the previous step. */
void __wrap_step(const char *what)
{
	static uint64_t last;
	uint64_t n = now_ns();

	if (g_steps)
		fprintf(stderr, "step +%9.1f us  %s\n",
			last ? (double)(n - last) / 1e3 : 0.0, what);
	last = n;
	__real_step(what);
}

static int g_log;   /* log the stops now */
static int g_phase; /* 0 inject, 1 load call, 2 switch */

/* Every stop ends here; its seize-to-resume time is from pt_interrupt()'s
 * PTRACE_SEIZE (seize_ns) to the detach. */
int __wrap_pt_resume(struct pt_thread *t)
{
	int ret = __real_pt_resume(t);

	if (g_log)
		log_stop(pt_paused_ns(t),
			 t->seize_ns && t->resume_ns >= t->seize_ns
			     ? t->resume_ns - t->seize_ns
			     : 0,
			 g_phase);
	return ret;
}

/* ---- the target ---- */

static pid_t spawn_target(const char *bin, int nthreads)
{
	char arg[32], line[256];
	size_t len = 0;
	int fd[2];
	pid_t pid;
	uint64_t deadline = now_ns() + (uint64_t)SPAWN_TIMEOUT_MS * 1000000;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		snprintf(arg, sizeof(arg), "%d", nthreads);
		execl(bin, bin, arg, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
		struct pollfd pf = {fd[0], POLLIN, 0};
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		r = read(fd[0], line + len, sizeof(line) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	line[len] = '\0';
	close(fd[0]);
	if (strncmp(line, "ready ", 6)) {
		fprintf(stderr, "pausebench: target %s %d did not start: %s\n",
			bin, nthreads, line);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	sleep_us(WARMUP_MS * 1000);
	return pid;
}

static void kill_target(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* ---- one run ---- */

static int run_uklp(pid_t pid, const char *lib, const char *patch,
		    struct run *res)
{
	struct switch_report r;
	char msg[UKLP_ABI_MSG_MAX];
	struct proc p;
	uint64_t t0;
	long rc = 0;
	int ret;

	g_phase = 0;
	g_log = 1;
	t0 = now_ns();
	prio_boost_self(); /* as the commands do (tool/cmd_target.c) */
	ret = proc_open(pid, &p);
	if (ret) {
		snprintf(res->err, sizeof(res->err), "proc_open: %s",
			 strerror(-ret));
		g_log = 0;
		return -1;
	}
	ret = inject_runtime(&p, lib, g_timeout_ms);
	res->inject_ns = now_ns() - t0;
	if (ret) {
		snprintf(res->err, sizeof(res->err), "inject_runtime: %s",
			 strerror(-ret));
		goto out;
	}
	g_phase = 1;
	ret = inject_tool_call(&p, UKLP_OP_LOAD, patch, &rc, msg, sizeof(msg),
			       g_timeout_ms);
	res->call_ns = now_ns() - t0;
	if (ret || rc) {
		snprintf(res->err, sizeof(res->err),
			 "load: %s (rc %ld: %.160s)", strerror(-ret), rc, msg);
		ret = -1;
		goto out;
	}
	memset(&r, 0, sizeof(r));
	g_phase = 2;
	ret = switch_wait(&p, g_timeout_ms, 0, &r);
	res->total_ns = now_ns() - t0;
	res->threads = r.threads;
	if (ret) {
		snprintf(res->err, sizeof(res->err),
			 "switch_wait: %s (%zu/%zu switched, blocker %d %s)",
			 strerror(-ret), r.switched, r.threads, (int)r.blocker,
			 r.blocker_func);
		goto out;
	}
	res->ok = 1;
out:
	g_log = 0;
	proc_close(&p);
	return res->ok ? 0 : -1;
}

/* ---- stop the world ---- */

struct held {
	struct pt_thread t;
	int stopped;
	uintptr_t *pcs;
	size_t npcs;
};

/* The forbidden ranges of the patch, from the target's symbols (the
 * runtime's own list is only known after the load). */
static int patch_ranges(struct proc *p, int nfuncs, struct stackcheck_range *r)
{
	struct proc_obj *o = proc_main_obj(p);
	struct elfsym_file *f = o ? proc_obj_elf(o) : NULL;

	if (!f)
		return -ENOENT;
	for (int i = 0; i < nfuncs; i++) {
		char name[16];
		struct elfsym_sym s;

		snprintf(name, sizeof(name), "f%04d", i);
		if (elfsym_lookup(f, name, 0, &s, NULL))
			return -ENOENT;
		r[i].start = (uintptr_t)(s.value + o->bias);
		r[i].end = r[i].start + (s.size ? s.size : 1);
		r[i].name = "patched function";
	}
	stackcheck_sort(r, (size_t)nfuncs);
	return 0;
}

/*
 * Stop every thread at once, as a stop-the-world patcher does (its best
 * case): PTRACE_SEIZE + PTRACE_INTERRUPT to all, then collect each trap
 * (passing on a signal that comes first, as ptrace.c does). A thread's
 * stop_ns is when its trap was collected, as pt_stop() records it.
 */
static int stop_all(struct held *h, const pid_t *tids, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		memset(&h[i].t, 0, sizeof(h[i].t));
		h[i].t.tid = tids[i];
		if (ptrace(PTRACE_SEIZE, tids[i], 0, 0)) {
			err = -errno;
			break;
		}
		h[i].stopped = 1;
		if (ptrace(PTRACE_INTERRUPT, tids[i], 0, 0)) {
			err = -errno;
			break;
		}
	}
	for (size_t i = 0; i < n && h[i].stopped; i++) {
		for (;;) {
			int st;
			pid_t r = waitpid(tids[i], &st, __WALL);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 || !WIFSTOPPED(st))
				return err ? err : -ESRCH;
			if ((unsigned int)st >> 16 == PTRACE_EVENT_STOP)
				break;
			ptrace(PTRACE_CONT, tids[i], 0,
			       (void *)(long)((unsigned int)st >> 16
						  ? 0
						  : WSTOPSIG(st)));
		}
		h[i].t.stop_ns = now_ns();
		if (ptrace(PTRACE_GETREGS, tids[i], 0, &h[i].t.regs) && !err)
			err = -errno;
	}
	return err;
}

static int unwind_held(struct proc *p, struct held *h)
{
	uintptr_t pcs[MAX_FRAMES];
	size_t n = 0;
	int ret = unwind_remote_regs(p, &h->t.regs, pcs, MAX_FRAMES, &n);

	if (ret)
		return ret;
	free(h->pcs);
	h->pcs = malloc(n * sizeof(*pcs));
	if (!h->pcs)
		return -ENOMEM;
	memcpy(h->pcs, pcs, n * sizeof(*pcs));
	h->npcs = n;
	return 0;
}

static void release_all(struct held *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].stopped) {
			pt_resume(&h[i].t);
			h[i].stopped = 0;
		}
}

static int wait_status(struct proc *p, struct uklp_status *st, int ready)
{
	uint64_t deadline = now_ns() + (uint64_t)g_timeout_ms * 1000000;
	long us = 100;
	int ret;

	for (;;) {
		if (ready)
			proc_refresh(p);
		ret = switch_read_status(p, st, NULL);
		if (!ret && ready && st->ready)
			return 0;
		if (!ret && !ready &&
		    (st->target == KLP_UNDEFINED || !st->transition_patch[0]))
			return 0;
		if (ret && ret != -ENOENT && ret != -EPROTO && ret != -EAGAIN)
			return ret;
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		sleep_us(us);
		if (ready && us < 10000)
			us *= 2;
		if (!ready)
			us = 1000; /* as switch_wait()'s watch_complete() */
	}
}

/* uklp_tool_call(op, patch, token) on @tid only; waits for the answer. */
static int stw_tool_call(struct proc *p, pid_t tid, int op, const char *arg,
			 long *rc, char *msg, size_t msglen)
{
	struct {
		uint64_t token;
		int64_t rc;
		char msg[UKLP_ABI_MSG_MAX];
	} ans;
	uint64_t deadline = now_ns() + (uint64_t)g_timeout_ms * 1000000;
	uint64_t args[3], token = 0;
	uintptr_t fn, sta;
	struct uklp_status st;
	long us = 100;
	int ret;

	ret = switch_read_status(p, &st, &sta);
	if (!ret)
		ret = proc_sym(p, "libuklp.so", UKLP_ABI_CALL_SYMBOL, &fn);
	if (ret)
		return ret;
	while (!token)
		if (getrandom(&token, sizeof(token), 0) != sizeof(token))
			return -errno;
	args[0] = (uint64_t)op;
	args[1] = 0;
	args[2] = token;
	ret = inject_call_on(p, tid, fn, args, arg, 1, g_timeout_ms);
	if (ret)
		return ret;
	for (;;) {
		ret =
		    proc_read(p, sta + offsetof(struct uklp_status, call_token),
			      &ans, sizeof(ans));
		if (ret)
			return ret;
		if (ans.token == token)
			break;
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		sleep_us(us);
		if (us < 2000)
			us *= 2;
	}
	*rc = (long)ans.rc;
	ans.msg[sizeof(ans.msg) - 1] = '\0';
	snprintf(msg, msglen, "%s", ans.msg);
	return 0;
}

/* The tool thread table: record @tid's word (as switch.c's ttab_record). */
static int ttab_add(struct proc *p, struct uklp_abi_thread *tab,
		    uintptr_t tab_addr, pid_t tid, uintptr_t word_addr)
{
	for (size_t i = 0; i < UKLP_ABI_TOOL_THREADS; i++) {
		uintptr_t at = tab_addr + i * sizeof(*tab);
		int32_t tid32 = (int32_t)tid;
		uint64_t wa = word_addr;
		int ret;

		if (tab[i].tid && tab[i].tid != tid)
			continue;
		ret = proc_write(
		    p, at + offsetof(struct uklp_abi_thread, word_addr), &wa,
		    sizeof(wa));
		if (!ret)
			ret = proc_write(
			    p, at + offsetof(struct uklp_abi_thread, tid),
			    &tid32, sizeof(tid32));
		if (!ret) {
			tab[i].tid = tid32;
			tab[i].word_addr = wa;
		}
		return ret;
	}
	return -ENOSPC;
}

/* Switch one held thread from the tool; -EBUSY when its stack forbids. */
static int switch_held(struct proc *p, const struct uklp_status *st,
		       const struct stackcheck_range *r, size_t nr,
		       struct uklp_abi_thread *tab, struct held *h)
{
	uintptr_t wa =
	    (uintptr_t)h->t.regs.fs_base + (uintptr_t)st->tls_word_off;
	uint32_t word;
	int ret, state;

	ret = proc_read(p, wa, &word, sizeof(word));
	if (ret)
		return ret;
	state = WORD_CURRENT(word, st->gen) ? (int)(word & 1) : st->initial;
	if (state == st->target)
		return 0;
	if (stackcheck_pcs(h->pcs, h->npcs, r, nr) >= 0)
		return -EBUSY;
	ret = ttab_add(p, tab, (uintptr_t)st->tool_threads_addr, h->t.tid, wa);
	if (ret)
		return ret;
	word = WORD(st->gen, st->target);
	return proc_write(p, wa, &word, sizeof(word));
}

static int run_stw(pid_t pid, const char *lib, const char *patch, int nfuncs,
		   uint64_t deadline, struct run *res)
{
	struct stackcheck_range *fr = NULL, *rr = NULL;
	struct uklp_abi_range *raw = NULL;
	struct uklp_abi_thread *tab = NULL;
	struct held *h = NULL, *ex = NULL;
	char msg[UKLP_ABI_MSG_MAX] = "";
	struct uklp_status st;
	pid_t *tids = NULL;
	size_t ntids = 0, nr = 0;
	uint64_t t0, ex_first = 0;
	uint64_t dl_args[3] = {0, RTLD_NOW_ | RTLD_GLOBAL_, 0};
	uintptr_t dlopen_fn;
	struct proc p;
	long rc = 0;
	int ret, opened = 0;

	t0 = now_ns();
	prio_boost_self(); /* its best case: the same as uklp's */
	ret = proc_open(pid, &p);
	if (ret) {
		snprintf(res->err, sizeof(res->err), "proc_open: %s",
			 strerror(-ret));
		return -1;
	}
	opened = 1;
	fr = calloc((size_t)nfuncs, sizeof(*fr));
	if (!fr || patch_ranges(&p, nfuncs, fr)) {
		snprintf(res->err, sizeof(res->err), "no f0000.. in target");
		goto out;
	}
	if (proc_sym(&p, "libc.so", "dlopen", &dlopen_fn)) {
		snprintf(res->err, sizeof(res->err), "no dlopen in libc");
		goto out;
	}
	ret = proc_tids(pid, &tids, &ntids);
	if (ret || !ntids)
		goto out;
	h = calloc(ntids, sizeof(*h));
	if (!h)
		goto out;
	res->threads = ntids;
	unwind_prepare(&p);
	/* Catch every thread outside the functions the patch replaces. */
	for (;;) {
		int clean = 1;

		res->tries++;
		ret = stop_all(h, tids, ntids);
		if (ret) {
			snprintf(res->err, sizeof(res->err), "stopping: %s",
				 strerror(-ret));
			release_all(h, ntids);
			goto out;
		}
		for (size_t i = 0; clean && i < ntids; i++)
			clean = !unwind_held(&p, &h[i]) &&
				stackcheck_pcs(h[i].pcs, h[i].npcs, fr,
					       (size_t)nfuncs) < 0;
		res->caught_ns = now_ns() - t0;
		if (clean)
			break;
		release_all(h, ntids);
		if (now_ns() + STW_RETRY_US * 1000 >= deadline) {
			snprintf(res->err, sizeof(res->err),
				 "%d tries in %.1f s: never caught every "
				 "thread outside the patched functions",
				 res->tries, (double)(now_ns() - t0) / 1e9);
			goto out;
		}
		sleep_us(STW_RETRY_US);
	}
	/* The loading thread: the main thread (the first listed). */
	for (size_t i = 0; i < ntids; i++)
		if (h[i].t.tid == pid)
			ex = &h[i];
	if (!ex)
		ex = &h[0];
	ex_first = ex->t.stop_ns;
	pt_resume(&ex->t);
	ex->stopped = 0;
	/* dlopen(libuklp.so) on it, every other thread stopped. */
	ret = inject_call_on(&p, ex->t.tid, dlopen_fn, dl_args, lib, 0,
			     g_timeout_ms);
	if (!ret)
		ret = wait_status(&p, &st, 1);
	inject_call_done();
	res->inject_ns = now_ns() - t0;
	if (ret) {
		snprintf(res->err, sizeof(res->err), "runtime: %s (%s)",
			 strerror(-ret), inject_last_error());
		goto out_release;
	}
	ret = stw_tool_call(&p, ex->t.tid, UKLP_OP_LOAD, patch, &rc, msg,
			    sizeof(msg));
	inject_call_done();
	res->call_ns = now_ns() - t0;
	if (ret || rc) {
		snprintf(res->err, sizeof(res->err),
			 "load: %s (rc %ld: %.160s)", strerror(-ret), rc, msg);
		goto out_release;
	}
	/* Switch the held threads, then the loading thread, from here. */
	proc_refresh(&p);
	ret = switch_read_status(&p, &st, NULL);
	if (!ret && st.target != KLP_UNDEFINED) {
		size_t len = UKLP_ABI_TOOL_THREADS * sizeof(*tab);

		nr = (size_t)st.nranges;
		raw = calloc(nr ? nr : 1, sizeof(*raw));
		rr = calloc(nr ? nr : 1, sizeof(*rr));
		tab = malloc(len);
		if (!raw || !rr || !tab) {
			ret = -ENOMEM;
			goto out_release;
		}
		ret = proc_read(&p, (uintptr_t)st.ranges_addr, raw,
				nr * sizeof(*raw));
		if (!ret)
			ret = proc_read(&p, (uintptr_t)st.tool_threads_addr,
					tab, len);
		for (size_t i = 0; i < nr; i++) {
			rr[i].start = (uintptr_t)raw[i].start;
			rr[i].end = (uintptr_t)raw[i].end;
			rr[i].name = "range";
		}
		stackcheck_sort(rr, nr);
		for (size_t i = 0; !ret && i < ntids; i++)
			if (&h[i] != ex)
				ret = switch_held(&p, &st, rr, nr, tab, &h[i]);
		/* The loading thread, once back where it was (the restore
		 * stub has no CFI: not reliable until it is out of it). */
		for (int k = 0; !ret; k++) {
			ret = pt_stop(ex->t.tid, &ex->t);
			if (ret)
				break;
			ex->stopped = 1;
			ret = unwind_held(&p, ex);
			if (!ret) {
				ret = switch_held(&p, &st, rr, nr, tab, ex);
				break;
			}
			pt_resume(&ex->t);
			ex->stopped = 0;
			if (k > 10000)
				break;
			sleep_us(100);
		}
		if (ret) {
			snprintf(res->err, sizeof(res->err),
				 "switching a held thread: %s", strerror(-ret));
			goto out_release;
		}
	}
	/* The runtime's worker completes the transition (it polls). */
	ret = wait_status(&p, &st, 0);
	if (ret) {
		snprintf(res->err, sizeof(res->err), "completion: %s",
			 strerror(-ret));
		goto out_release;
	}
	res->ok = 1;
out_release:
	release_all(h, ntids);
	res->total_ns = now_ns() - t0;
	for (size_t i = 0; i < ntids; i++) {
		if (&h[i] == ex)
			log_stop(ex->t.resume_ns - ex_first, 0, 3);
		else
			log_stop(pt_paused_ns(&h[i].t), 0, 3);
	}
out:
	if (h)
		for (size_t i = 0; i < ntids; i++)
			free(h[i].pcs);
	free(h);
	free(tids);
	free(fr);
	free(rr);
	free(raw);
	free(tab);
	if (opened)
		proc_close(&p);
	return res->ok ? 0 : -1;
}

/* ---- the real command ---- */

static void run_cli(pid_t pid, const char *uklp, const char *patch,
		    const char *rawdir, uint64_t deadline, struct run *res)
{
	char pidarg[32], pfile[PATH_MAX], lfile[PATH_MAX], line[64];
	uint64_t t0;
	pid_t c;
	int st = 0;
	FILE *f;

	snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);
	snprintf(pfile, sizeof(pfile), "%s/cli.pauses.tmp", rawdir);
	snprintf(lfile, sizeof(lfile), "%s/cli.log", rawdir);
	unlink(pfile);
	t0 = now_ns();
	c = fork();
	if (c < 0)
		return;
	if (!c) {
		int fd = open(lfile, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("UKLP_TOOL_PAUSES", pfile, 1);
		execl(uklp, uklp, "load", pidarg, patch, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(c, &st, WNOHANG);

		if (r == c)
			break;
		if (now_ns() >= deadline) {
			kill(c, SIGKILL);
			waitpid(c, &st, 0);
			res->timed_out = 1;
			break;
		}
		sleep_us(1000);
	}
	res->total_ns = now_ns() - t0;
	res->ok = !res->timed_out && WIFEXITED(st) && !WEXITSTATUS(st);
	if (!res->ok)
		snprintf(res->err, sizeof(res->err), "uklp load: %s %#x",
			 res->timed_out ? "killed at the deadline" : "status",
			 st);
	f = fopen(pfile, "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			log_stop(strtoull(line, NULL, 10), 0, 4);
		fclose(f);
		unlink(pfile);
	}
}

/* ---- main ---- */

enum { M_UKLP, M_STW, M_CLI, M_N };
static const char *const mname[M_N] = {"uklp", "stw", "cli"};

struct agg {
	int on;
	struct vec pauses, seizes, switches, totals, injects, calls;
	uint64_t phase_max[5];
	int runs, ok, timeouts, tries;
	char err[256];
	FILE *runs_f, *pauses_f;
};

/*
 * One run of method @m on the target @pid: uklp and stw in a child (killed
 * at the deadline), cli as a child of its own. Fills sh->res and the stops.
 */
static void run_one(int m, pid_t pid, const char *lib, const char *patch,
		    int nfuncs, const char *uklp, const char *rawdir)
{
	uint64_t t0 = now_ns();
	uint64_t deadline = t0 + (uint64_t)g_timeout_ms * 1000000;
	pid_t c;
	int st;

	memset(&sh->res, 0, sizeof(sh->res));
	sh->n = 0;
	if (m == M_CLI) {
		run_cli(pid, uklp, patch, rawdir, deadline, &sh->res);
		return;
	}
	fflush(NULL); /* nothing buffered for the child to write again */
	c = fork();
	if (c < 0) {
		snprintf(sh->res.err, sizeof(sh->res.err), "fork: %s",
			 strerror(errno));
		return;
	}
	if (!c) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (m == M_UKLP)
			run_uklp(pid, lib, patch, &sh->res);
		else
			run_stw(pid, lib, patch, nfuncs, deadline, &sh->res);
		_exit(0);
	}
	for (;;) {
		pid_t r = waitpid(c, &st, WNOHANG);

		if (r == c)
			break;
		if (now_ns() >= deadline) {
			/* The kernel detaches whatever it held stopped. */
			kill(c, SIGKILL);
			waitpid(c, &st, 0);
			sh->res.timed_out = 1;
			sh->res.ok = 0;
			sh->res.total_ns = now_ns() - t0;
			snprintf(sh->res.err, sizeof(sh->res.err),
				 "not complete after %d s (%zu stops logged)",
				 g_timeout_ms / 1000, (size_t)sh->n);
			break;
		}
		sleep_us(2000);
	}
}

static void print_result(int m, struct agg *a, int nthreads, int nfuncs)
{
	qsort(a->pauses.v, a->pauses.n, sizeof(uint64_t), u64cmp);
	qsort(a->seizes.v, a->seizes.n, sizeof(uint64_t), u64cmp);
	qsort(a->switches.v, a->switches.n, sizeof(uint64_t), u64cmp);
	qsort(a->totals.v, a->totals.n, sizeof(uint64_t), u64cmp);
	qsort(a->injects.v, a->injects.n, sizeof(uint64_t), u64cmp);
	qsort(a->calls.v, a->calls.n, sizeof(uint64_t), u64cmp);
	printf("RESULT method=%s threads=%d funcs=%d runs=%d ok=%d "
	       "timeouts=%d deadline_s=%d total_med_ms=%.1f total_max_ms=%.1f "
	       "inject_med_ms=%.1f call_med_ms=%.1f stops=%zu "
	       "pause_p50_us=%.1f pause_p99_us=%.1f pause_max_us=%.1f "
	       "max_inject_us=%.1f max_call_us=%.1f max_switch_us=%.1f "
	       "switch_stops=%zu switch_p99_us=%.1f "
	       "seize_p99_us=%.1f seize_max_us=%.1f tries=%d err=\"%s\"\n",
	       mname[m], nthreads, nfuncs, a->runs, a->ok, a->timeouts,
	       g_timeout_ms / 1000, pct(&a->totals, 50) / 1e6,
	       pct(&a->totals, 100) / 1e6, pct(&a->injects, 50) / 1e6,
	       pct(&a->calls, 50) / 1e6, a->pauses.n, pct(&a->pauses, 50) / 1e3,
	       pct(&a->pauses, 99) / 1e3, pct(&a->pauses, 100) / 1e3,
	       a->phase_max[0] / 1e3, a->phase_max[1] / 1e3,
	       a->phase_max[2] / 1e3, a->switches.n,
	       pct(&a->switches, 99) / 1e3, pct(&a->seizes, 99) / 1e3,
	       pct(&a->seizes, 100) / 1e3, a->tries, a->err);
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: tool-pausebench [-s] [-r RUNS] [-t DEADLINE_S] "
			"[-m uklp,stw,cli] [-o RAWDIR] [-u UKLP] TARGET "
			"LIBUKLP PATCH NTHREADS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *methods = "uklp,stw", *rawdir = NULL, *uklp = NULL;
	char lib[PATH_MAX], patch[PATH_MAX], target[PATH_MAX];
	struct agg ag[M_N];
	int runs = 3, nthreads, nfuncs, order[M_N], nm = 0, c, failed = 0;

	while ((c = getopt(argc, argv, "r:t:m:o:u:s")) != -1) {
		switch (c) {
		case 's':
			g_steps = 1;
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 't':
			g_timeout_ms = atoi(optarg) * 1000;
			break;
		case 'm':
			methods = optarg;
			break;
		case 'o':
			rawdir = optarg;
			break;
		case 'u':
			uklp = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 4 || runs < 1 || g_timeout_ms < 1000)
		usage();
	if (!realpath(argv[optind], target) ||
	    !realpath(argv[optind + 1], lib) ||
	    !realpath(argv[optind + 2], patch)) {
		perror("pausebench: realpath");
		return 2;
	}
	nthreads = atoi(argv[optind + 3]);
	nfuncs = strstr(patch, "tool_p1000") ? TOOL_NFUNCS : 1;
	memset(ag, 0, sizeof(ag));
	for (int m = 0; m < M_N; m++) {
		char *s = strstr(methods, mname[m]);

		if (s && (s == methods || s[-1] == ',')) {
			ag[m].on = 1;
			order[nm++] = m;
		}
	}
	if (!nm || (ag[M_CLI].on && (!uklp || !rawdir)))
		usage();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("pausebench: mmap");
		return 1;
	}
	if (rawdir)
		for (int m = 0; m < M_N; m++) {
			char fn[PATH_MAX];

			if (!ag[m].on)
				continue;
			snprintf(fn, sizeof(fn), "%s/%s.runs", rawdir,
				 mname[m]);
			ag[m].runs_f = fopen(fn, "we");
			snprintf(fn, sizeof(fn), "%s/%s.pauses", rawdir,
				 mname[m]);
			ag[m].pauses_f = fopen(fn, "we");
		}
	for (int k = 0; k < runs; k++) {
		for (int j = 0; j < nm; j++) {
			int m = order[k % 2 ? nm - 1 - j : j];
			struct agg *a = &ag[m];
			struct run *res = &sh->res;
			pid_t pid;

			pid = spawn_target(target, nthreads);
			if (pid < 0)
				return 1;
			run_one(m, pid, lib, patch, nfuncs, uklp, rawdir);
			kill_target(pid);
			a->runs++;
			a->tries += res->tries;
			for (size_t i = 0; i < sh->n; i++) {
				vpush(&a->pauses, sh->pause[i]);
				if (sh->phase[i] == 2)
					vpush(&a->switches, sh->pause[i]);
				if (sh->seize[i])
					vpush(&a->seizes, sh->seize[i]);
				if (sh->pause[i] > a->phase_max[sh->phase[i]])
					a->phase_max[sh->phase[i]] =
					    sh->pause[i];
				if (a->pauses_f)
					fprintf(
					    a->pauses_f, "%llu %u %d\n",
					    (unsigned long long)sh->pause[i],
					    sh->phase[i], k);
			}
			if (res->ok) {
				a->ok++;
				vpush(&a->totals, res->total_ns);
				vpush(&a->injects, res->inject_ns);
				vpush(&a->calls, res->call_ns);
			} else {
				/* Past the deadline is a result, not a failure.
				 */
				if (!res->timed_out)
					failed = 1;
				a->timeouts += res->timed_out;
				snprintf(a->err, sizeof(a->err), "%s",
					 res->err[0] ? res->err : "failed");
				fprintf(stderr,
					"pausebench: %s, %d threads, %s: %s\n",
					mname[m], nthreads, patch, a->err);
			}
			if (a->runs_f)
				fprintf(
				    a->runs_f,
				    "run=%d ok=%d timed_out=%d total_us=%llu "
				    "caught_us=%llu inject_us=%llu "
				    "call_us=%llu stops=%zu "
				    "threads=%zu tries=%d err=\"%s\"\n",
				    k, res->ok, res->timed_out,
				    (unsigned long long)res->total_ns / 1000,
				    (unsigned long long)res->caught_ns / 1000,
				    (unsigned long long)res->inject_ns / 1000,
				    (unsigned long long)res->call_ns / 1000,
				    (size_t)sh->n, res->threads, res->tries,
				    res->err);
		}
	}
	for (int m = 0; m < M_N; m++) {
		if (!ag[m].on)
			continue;
		if (ag[m].runs_f)
			fclose(ag[m].runs_f);
		if (ag[m].pauses_f)
			fclose(ag[m].pauses_f);
		print_result(m, &ag[m], nthreads, nfuncs);
	}
	return failed;
}
