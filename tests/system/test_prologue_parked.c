// SPDX-License-Identifier: MIT
/*
 * test_prologue_parked.c - a thread parked inside the displaced
 * instructions of a prologue site while the site is armed continues
 * correctly (issue 4).
 *
 * parked_fn() below has no compiler site (assembly, with the unwind
 * information a compiler would give it) and a prologue of three
 * instructions, so a thread can be stopped between them:
 *
 *   +0 53            push %rbx
 *   +1 89 fb         mov  %edi,%ebx
 *   +3 8d 44 1b 03   lea  3(%rbx,%rbx),%eax      parked here
 *   +7 5b            pop  %rbx
 *   +8 c3            ret
 *
 * The test forks a child (the target, linked with the runtime) whose thread
 * T calls parked_fn(x) in a loop and counts the results: 2x + 3 (old),
 * 2x + 1000 (patched by parked_patch.so) or anything else (wrong). The
 * parent, a ptrace tracer:
 *   1. single-steps T until its PC is parked_fn + 3, and keeps it stopped;
 *   2. lets the child's main thread load the patch (in-process);
 *   3. waits until the int3 of the arming protocol is at parked_fn and
 *      the runtime's request to move is pending in T (T is asleep in a
 *      ptrace stop, its PC in the displaced bytes);
 *   4. detaches from T, which takes the request before anything else and
 *      is moved into the relocated copy before the jmp is written over
 *      +1..+4.
 * The child then checks: the load succeeded and moved exactly one thread,
 * T never saw a wrong result (had it been left at +3 it would have run the
 * jmp's rel32 bytes), T sees the patched result after the transition and
 * the original again after disable, and it kept running throughout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uklp/control.h>

int parked_fn(int x);

__asm__(".text\n"
	".globl parked_fn\n"
	".type parked_fn, @function\n"
	".p2align 4\n"
	"parked_fn:\n"
	"	.cfi_startproc\n"
	"	push %rbx\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	.cfi_offset rbx, -16\n"
	"	mov %edi, %ebx\n"
	"	lea 3(%rbx,%rbx), %eax\n"
	"	pop %rbx\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	.cfi_restore rbx\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size parked_fn, . - parked_fn\n");

#define PARK_OFF 3

static atomic_bool stop;
static atomic_long n_old, n_new, n_wrong;
static atomic_int worker_tid;

static void *worker(void *arg)
{
	atomic_store(&worker_tid, (int)syscall(SYS_gettid));
	for (unsigned i = 0; !atomic_load_explicit(&stop, memory_order_relaxed);
	     i++) {
		int x = (int)(i & 0xffff), r = parked_fn(x);

		if (r == 2 * x + 3)
			atomic_fetch_add_explicit(&n_old, 1,
						  memory_order_relaxed);
		else if (r == 2 * x + 1000)
			atomic_fetch_add_explicit(&n_new, 1,
						  memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&n_wrong, 1,
						  memory_order_relaxed);
	}
	return NULL;
}

static int failed;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failed = 1;
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Wait until T made @n more calls (it keeps running); 0 on success. */
static int progresses(long n)
{
	long start =
	    atomic_load(&n_old) + atomic_load(&n_new) + atomic_load(&n_wrong);

	for (int i = 0; i < 10000; i++) {
		if (atomic_load(&n_old) + atomic_load(&n_new) +
			atomic_load(&n_wrong) >=
		    start + n)
			return 0;
		nap_ms(1);
	}
	return -1;
}

/* The target: T hammers parked_fn(); the main thread loads on "go". */
static int child(int to_parent, int from_parent, const char *patch)
{
	struct uklp_stats st;
	pthread_t t;
	long old0, new0;
	char go;
	int tid, ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (pthread_create(&t, NULL, worker, NULL))
		return 2;
	while (!(tid = atomic_load(&worker_tid)))
		nap_ms(1);
	if (write(to_parent, &tid, sizeof(tid)) != sizeof(tid) ||
	    read(from_parent, &go, 1) != 1)
		return 2;

	/* T is parked at parked_fn + 3 by the parent. */
	ret = uklp_ctl_load(patch, 0);
	printf("child: uklp_ctl_load: %d %s\n", ret, uklp_ctl_last_error());
	check(ret == 0,
	      "the load succeeded while T was parked in the prologue");
	uklp_ctl_stats(&st);
	printf("child: threads moved: %ld\n", st.moved);
	check(st.moved == 1, "exactly one thread (T) was moved into the copy");
	ret = uklp_ctl_wait(30000);
	check(ret == 0, "the transition completed");
	check(progresses(100000) == 0, "T keeps running after the load");
	new0 = atomic_load(&n_new);
	check(progresses(10000) == 0 && atomic_load(&n_new) > new0,
	      "T sees the patched parked_fn()");

	ret = uklp_ctl_disable("parked_patch");
	if (!ret)
		ret = uklp_ctl_wait(30000);
	check(ret == 0, "disable and its transition completed");
	old0 = atomic_load(&n_old);
	check(progresses(10000) == 0 && atomic_load(&n_old) > old0,
	      "T sees the original parked_fn() again");
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("child: calls old %ld new %ld wrong %ld\n", atomic_load(&n_old),
	       atomic_load(&n_new), atomic_load(&n_wrong));
	check(atomic_load(&n_wrong) == 0, "T never got a wrong result");
	fflush(stdout);
	return failed;
}

static int read_byte(pid_t pid, uintptr_t addr, uint8_t *b)
{
	char path[64];
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = pread(fd, b, 1, (off_t)addr) == 1;
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Has thread @tid of @pid a signal pending for itself (SigPnd of its
 * status)? The runtime's request to move, queued while T is stopped.
 */
static int has_pending(pid_t pid, pid_t tid)
{
	char path[96], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid,
		 (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigPnd: %llx", &mask) == 1)
			break;
	fclose(f);
	return mask != 0;
}

/* Single-step @tid until its PC is @pc; 0, or -1. */
static int step_to(pid_t tid, uintptr_t pc)
{
	struct user_regs_struct r;
	int st, sig = 0;

	for (long i = 0; i < 2000000; i++) {
		if (ptrace(PTRACE_SINGLESTEP, tid, 0, (void *)(long)sig))
			return -1;
		if (waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st))
			return -1;
		sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
		if (ptrace(PTRACE_GETREGS, tid, 0, &r))
			return -1;
		if (r.rip == pc) {
			printf("parent: T parked at parked_fn+%d after %ld "
			       "steps\n",
			       PARK_OFF, i + 1);
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	uintptr_t fn = (uintptr_t)parked_fn;
	int up[2], down[2], tid, st, ok = 0, pending = 0;
	char patch[PATH_MAX], *slash;
	uint8_t b = 0;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (readlink("/proc/self/exe", patch, sizeof(patch) - 32) < 0)
		return 1;
	patch[sizeof(patch) - 33] = 0;
	slash = strrchr(patch, '/');
	strcpy(slash + 1, "parked_patch.so");
	if (pipe(up) || pipe(down))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		close(up[0]);
		close(down[1]);
		_exit(child(up[1], down[0], patch));
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &tid, sizeof(tid)) != sizeof(tid))
		goto out;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) ||
	    ptrace(PTRACE_INTERRUPT, tid, 0, 0) ||
	    waitpid(tid, &st, __WALL) != tid) {
		perror("parent: ptrace");
		goto out;
	}
	if (step_to(tid, fn + PARK_OFF)) {
		printf("FAIL: could not park T inside parked_fn\n");
		goto out;
	}
	if (write(down[1], "g", 1) != 1)
		goto out;
	/* The arming's first step: the int3 at the entry. */
	for (int i = 0; i < 10000 && !read_byte(pid, fn, &b) && b != 0xcc; i++)
		nap_ms(1);
	printf("%s: the site is being armed (int3 at parked_fn) while T is "
	       "parked\n",
	       b == 0xcc ? "ok" : "FAIL");
	if (b != 0xcc)
		goto out;
	/*
	 * Wait for the runtime's request to be queued to T, so that T takes
	 * it before it executes anything (else T, let go, could leave the
	 * prologue by itself before the request arrives: correct, but not
	 * what this test is about).
	 */
	for (int i = 0; i < 10000 && !(pending = has_pending(pid, tid)); i++)
		nap_ms(1);
	printf("%s: the runtime asked T to move while T is parked\n",
	       pending ? "ok" : "FAIL");
	if (!pending)
		goto out;
	/* Let T go: it takes the runtime's request to move. */
	if (ptrace(PTRACE_DETACH, tid, 0, 0)) {
		perror("parent: PTRACE_DETACH");
		goto out;
	}
	if (waitpid(pid, &st, 0) != pid)
		goto out;
	pid = 0;
	ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok)
		printf("FAIL: the target %s %d\n",
		       WIFEXITED(st) ? "exited with" : "was killed by signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	printf("%s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
