// SPDX-License-Identifier: MIT
/*
 * inject_smoke.c - the injection path alone (tool/inject.c), against a
 * target started without LD_PRELOAD that checks itself:
 *
 *   - a reader thread blocked in read() (its reads must return only the
 *     bytes written), a sleeper in nanosleep(20 ms) (never EINTR, never
 *     shorter than asked), a busy thread whose integer and floating point
 *     results must not change, and the main thread in usleep(10 ms)
 *     (never shorter) writing to the reader; every misbehaviour counts in
 *     a page shared with this program;
 *   - inject_runtime() loads libuklp.so and inject_tool_call(UKLP_OP_NOP)
 *     answers 0;
 *   - every thread is hijacked INJECT_SMOKE_CALLS times (a call of
 *     getpid()), the pauses measured;
 *   - for N = 1, 2, ...: a fresh target, a tool process that SIGKILLs
 *     itself at step N of inject_runtime() + NOP (UKLP_TOOL_KILL_AT=N);
 *     the target must be alive, no thread stopped or traced, still
 *     working, and a second tool must then inject and call it; N goes on
 *     until the tool finishes without reaching N.
 *
 * Build (from the top directory, after make):
 *   cc -std=gnu11 -O2 -g -D_GNU_SOURCE -Iinclude -Icommon -Itool \
 *	tests/tool/inject_smoke.c tool/proc.c tool/ptrace.c tool/inject.c \
 *	tool/step.c tool/unwind.c build/libuklp-common.a \
 *	-lunwind-x86_64 -lunwind -lelf -lpthread -o build/inject_smoke
 * Run: build/inject_smoke build/libuklp.so
 * Last line: "inject_smoke: N kill points ok, M failed"; exit 0 when all
 * passed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inject.h"
#include "ptrace.h"
#include "step.h"
#include "uklp_abi.h"

#define INJECT_SMOKE_CALLS 200
#define KILL_MAX	   200
#define TIMEOUT_MS	   5000

/* Shared between the target and this program. */
struct counters {
	volatile unsigned long reads, sleeps, busy, ticks;
	volatile unsigned long bad;
	volatile char why[256];
};

static struct counters *cnt;
static int pipefd[2];

static void bad(const char *what)
{
	if (!cnt->bad)
		snprintf((char *)cnt->why, sizeof(cnt->why), "%s", what);
	__atomic_add_fetch(&cnt->bad, 1, __ATOMIC_SEQ_CST);
}

static long elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000L + b->tv_nsec - a->tv_nsec;
}

static void *reader(void *arg)
{
	char buf[64];

	for (;;) {
		ssize_t n = read(pipefd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			bad("reader: read failed");
			continue;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != 'x')
				bad("reader: wrong byte");
		cnt->reads += (unsigned long)n;
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	for (;;) {
		struct timespec req = {0, 20 * 1000 * 1000}, t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (nanosleep(&req, NULL))
			bad("sleeper: nanosleep failed");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (elapsed_ns(&t0, &t1) < req.tv_nsec)
			bad("sleeper: slept less than asked");
		cnt->sleeps++;
	}
	return NULL;
}

__attribute__((noinline)) static double fp_work(double *v, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++) {
		v[i] = v[i] * 1.0000001 + 0.5;
		s += v[i];
	}
	return s;
}

static void *busy(void *arg)
{
	static double v[2048];
	unsigned long x = 12345;

	for (;;) {
		unsigned long a = x, b = x * 3, c = x ^ 0x5555;
		double s1, s2 = 0;

		for (int i = 0; i < 1000; i++) {
			a += (unsigned long)i;
			b += 3ul * (unsigned long)i;
			c ^= c << 1;
			c ^= c >> 3;
		}
		if (b - a * 3 != 0)
			bad("busy: integer registers changed");
		s1 = fp_work(v, 2048);
		for (int i = 0; i < 2048; i++)
			s2 += v[i];
		if (s1 != s2)
			bad("busy: floating point state changed");
		if (v[0] > 1e12)
			memset(v, 0, sizeof(v));
		x = c + cnt->busy++;
	}
	return NULL;
}

static void __attribute__((noreturn)) target_main(void)
{
	pthread_t t;

	if (pipe(pipefd) || pthread_create(&t, NULL, reader, NULL) ||
	    pthread_create(&t, NULL, sleeper, NULL) ||
	    pthread_create(&t, NULL, busy, NULL))
		_exit(2);
	for (;;) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (usleep(10 * 1000))
			bad("main: usleep failed");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (elapsed_ns(&t0, &t1) < 10 * 1000 * 1000)
			bad("main: usleep slept less than asked");
		if (write(pipefd[1], "x", 1) != 1)
			bad("main: write failed");
		cnt->ticks++;
	}
}

static pid_t start_target(void)
{
	pid_t pid;

	memset((void *)cnt, 0, sizeof(*cnt));
	pid = fork();
	if (pid == 0)
		target_main();
	/* Until its threads run. */
	while (pid > 0 && (cnt->sleeps < 1 || cnt->busy < 1 || cnt->reads < 1))
		usleep(1000);
	return pid;
}

static void stop_target(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Inject the runtime and call NOP; the exit status of a tool process. */
static int tool_inject_nop(pid_t pid, const char *lib)
{
	char msg[UKLP_ABI_MSG_MAX];
	struct proc p;
	long rc = -1;
	int err;

	err = proc_open(pid, &p);
	if (err)
		return 10;
	err = inject_runtime(&p, lib, TIMEOUT_MS);
	if (!err)
		err = inject_tool_call(&p, UKLP_OP_NOP, NULL, &rc, msg,
				       sizeof(msg), TIMEOUT_MS);
	proc_close(&p);
	if (err) {
		fprintf(stderr, "inject_smoke: tool: %s (%s)\n", strerror(-err),
			inject_last_error());
		return 11;
	}
	return rc == 0 ? 0 : 12;
}

/* Run tool_inject_nop() in a child, killed at step @kill_at (0: never). */
static int run_tool(pid_t pid, const char *lib, int kill_at,
		    unsigned long *steps)
{
	unsigned long *shared_steps;
	char buf[32];
	pid_t c;
	int st;

	shared_steps = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_steps == MAP_FAILED)
		return -1;
	*shared_steps = 0;
	c = fork();
	if (c == 0) {
		int r;

		snprintf(buf, sizeof(buf), "%d", kill_at);
		if (kill_at)
			setenv("UKLP_TOOL_KILL_AT", buf, 1);
		r = tool_inject_nop(pid, lib);
		*shared_steps = step_count();
		_exit(r);
	}
	waitpid(c, &st, 0);
	if (steps)
		*steps = *shared_steps;
	munmap(shared_steps, 4096);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* Alive, no thread stopped or traced, still working, nothing bad. */
static int target_healthy(pid_t pid, char *why, size_t len)
{
	unsigned long t0 = cnt->ticks, s0 = cnt->sleeps, b0 = cnt->busy,
		      r0 = cnt->reads;
	pid_t *tids;
	size_t n;

	if (waitpid(pid, NULL, WNOHANG) != 0) {
		snprintf(why, len, "the target died");
		return 0;
	}
	if (proc_tids(pid, &tids, &n)) {
		snprintf(why, len, "no threads");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char fn[64], line[256];
		FILE *f;

		snprintf(fn, sizeof(fn), "/proc/%d/task/%d/status", (int)pid,
			 (int)tids[i]);
		f = fopen(fn, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			int tracer;
			char state;

			if (sscanf(line, "TracerPid: %d", &tracer) == 1 &&
			    tracer) {
				snprintf(why, len, "thread %d still traced",
					 (int)tids[i]);
				fclose(f);
				free(tids);
				return 0;
			}
			if (sscanf(line, "State: %c", &state) == 1 &&
			    (state == 'T' || state == 't')) {
				snprintf(why, len, "thread %d stopped",
					 (int)tids[i]);
				fclose(f);
				free(tids);
				return 0;
			}
		}
		fclose(f);
	}
	free(tids);
	/* Every thread makes progress (within 5 s: a loaded machine). */
	for (int i = 0; i < 500; i++) {
		usleep(10 * 1000);
		if (cnt->ticks != t0 && cnt->sleeps != s0 && cnt->busy != b0 &&
		    cnt->reads != r0)
			break;
	}
	if (cnt->ticks == t0 || cnt->sleeps == s0 || cnt->busy == b0 ||
	    cnt->reads == r0) {
		snprintf(why, len,
			 "a thread of the target stopped working (main %lu, "
			 "sleeper %lu, busy %lu, reader %lu in 5 s)",
			 cnt->ticks - t0, cnt->sleeps - s0, cnt->busy - b0,
			 cnt->reads - r0);
		return 0;
	}
	if (cnt->bad) {
		snprintf(why, len, "%s", (const char *)cnt->why);
		return 0;
	}
	return 1;
}

/* Hijack every thread INJECT_SMOKE_CALLS times. */
static int hijack_every_thread(pid_t pid)
{
	uint64_t args[3] = {0, 0, 0}, worst = 0;
	struct proc p;
	uintptr_t fn;
	pid_t *tids;
	size_t n;
	int err;

	err = proc_open(pid, &p);
	if (!err)
		err = proc_sym(&p, "libc.so", "getpid", &fn);
	if (!err)
		err = proc_tids(pid, &tids, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n && !err; i++) {
		for (int k = 0; k < INJECT_SMOKE_CALLS && !err; k++) {
			err = inject_call_on(&p, tids[i], fn, args, NULL, 1,
					     TIMEOUT_MS);
			if (inject_max_pause_ns() > worst)
				worst = inject_max_pause_ns();
			usleep(1000);
		}
		if (err)
			fprintf(stderr, "inject_smoke: thread %d: %s (%s)\n",
				(int)tids[i], strerror(-err),
				inject_last_error());
	}
	printf("inject_smoke: %zu threads x %d calls, longest pause %llu us\n",
	       n, INJECT_SMOKE_CALLS, (unsigned long long)(worst / 1000));
	free(tids);
	proc_close(&p);
	return err;
}

int main(int argc, char **argv)
{
	unsigned long steps = 0;
	int ok = 0, failed = 0, r;
	char why[256];
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: %s LIBUKLP.so\n", argv[0]);
		return 2;
	}
	cnt = mmap(NULL, sizeof(*cnt), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cnt == MAP_FAILED)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* The plain path, then every thread hijacked many times. */
	pid = start_target();
	r = run_tool(pid, argv[1], 0, &steps);
	if (r || !target_healthy(pid, why, sizeof(why))) {
		printf("inject_smoke: inject + NOP failed (tool %d): %s\n", r,
		       r ? "see above" : why);
		stop_target(pid);
		return 1;
	}
	printf("inject_smoke: inject + NOP ok in %lu steps\n", steps);
	/* In a child: this process's step count stays 0 for the kills. */
	if (!fork())
		_exit(hijack_every_thread(pid) ? 1 : 0);
	wait(&r);
	snprintf(why, sizeof(why), "the hijacking tool failed");
	if (!WIFEXITED(r) || WEXITSTATUS(r) ||
	    !target_healthy(pid, why, sizeof(why))) {
		printf("inject_smoke: hijacks failed: %s\n", why);
		stop_target(pid);
		return 1;
	}
	stop_target(pid);

	/* The tool killed at every step. */
	for (int n = 1; n <= KILL_MAX; n++) {
		pid = start_target();
		r = run_tool(pid, argv[1], n, &steps);
		if (r != 128 + SIGKILL) {
			stop_target(pid);
			if (r) {
				printf("inject_smoke: kill at %d: tool failed "
				       "(%d)\n",
				       n, r);
				failed++;
			}
			break; /* finished before step n */
		}
		if (!target_healthy(pid, why, sizeof(why))) {
			printf("inject_smoke: kill at %d: %s\n", n, why);
			failed++;
		} else if ((r = run_tool(pid, argv[1], 0, NULL)) ||
			   !target_healthy(pid, why, sizeof(why))) {
			printf("inject_smoke: kill at %d: the next tool: %s\n",
			       n, r ? "failed" : why);
			failed++;
		} else {
			ok++;
		}
		stop_target(pid);
	}
	printf("inject_smoke: %d kill points ok, %d failed\n", ok, failed);
	return failed ? 1 : 0;
}
