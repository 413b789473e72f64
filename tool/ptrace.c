// SPDX-License-Identifier: MIT
/*
 * ptrace.c - stopping one thread of a target at a time.
 *
 * PTRACE_SEIZE (no SIGSTOP is sent, unlike PTRACE_ATTACH) and
 * PTRACE_INTERRUPT, then wait for the PTRACE_EVENT_STOP trap. No option is
 * set: in particular not PTRACE_O_EXITKILL, so a tool that dies leaves the
 * thread to the kernel, which detaches it and lets it run on.
 *
 * Signals are never lost: a signal-delivery-stop that comes before our
 * trap (the signal was already being delivered when we interrupted) is
 * passed on at once with PTRACE_CONT(sig), exactly as without us, and the
 * interrupt trap follows (at the handler's first instruction when the
 * signal has a handler). A stop that is not a signal-delivery-stop cannot
 * carry a signal, so nothing is ever kept for later.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptrace.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* The kernel's internal restart codes (include/linux/errno.h). */
#define PT_ERESTARTSYS		 512
#define PT_ERESTARTNOINTR	 513
#define PT_ERESTARTNOHAND	 514
#define PT_ERESTART_RESTARTBLOCK 516

/**
 * pt_now_ns() - CLOCK_MONOTONIC in nanoseconds
 *
 * Return: the time.
 */
uint64_t pt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Is @tid traced by someone (TracerPid in /proc/TID/status)? */
static int traced_by_other(pid_t tid)
{
	char fn[64], line[256];
	int tracer = 0;
	FILE *f;

	snprintf(fn, sizeof(fn), "/proc/%d/status", (int)tid);
	f = fopen(fn, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	fclose(f);
	return tracer != 0 && tracer != getpid();
}

static int seize_error(pid_t tid, int e)
{
	if (e == ESRCH)
		return -ESRCH;
	if (e == EPERM)
		return traced_by_other(tid) ? -EBUSY : -EPERM;
	return -e;
}

/* Reap a traced thread that died under us (it stays a zombie until then). */
static void reap(pid_t tid)
{
	int st;

	while (waitpid(tid, &st, __WALL | WNOHANG) < 0 && errno == EINTR)
		;
}

/* Whether the registers say: stopped inside an interrupted system call. */
static int stopped_in_syscall(const struct user_regs_struct *r)
{
	long rax = (long)r->rax;

	if ((long)r->orig_rax < 0)
		return 0;
	return rax == -EINTR || rax == -PT_ERESTARTSYS ||
	       rax == -PT_ERESTARTNOINTR || rax == -PT_ERESTARTNOHAND ||
	       rax == -PT_ERESTART_RESTARTBLOCK;
}

/*
 * One wait status of the seized and interrupted thread @t: 1 when it is
 * the PTRACE_EVENT_STOP trap, 0 when the thread goes on (a signal that
 * came first was passed on), or -errno (-ESRCH: gone, and reaped).
 */
static int handle_status(struct pt_thread *t, int st)
{
	int sig, event;

	if (WIFEXITED(st) || WIFSIGNALED(st))
		return -ESRCH; /* gone, and now reaped */
	if (!WIFSTOPPED(st))
		return 0;
	sig = WSTOPSIG(st);
	event = (unsigned int)st >> 16;
	if (event == PTRACE_EVENT_STOP) {
		/* SIGTRAP: our interrupt; a stop signal: the whole
		 * process is job-control stopped (stopped anyway). */
		t->group_stop = sig != SIGTRAP;
		return 1;
	}
	if (event) {
		/* No option asks for other events; let it go on. */
		if (ptrace(PTRACE_CONT, t->tid, 0, 0) && errno == ESRCH)
			return -ESRCH;
		return 0;
	}
	/* Signal-delivery-stop: deliver it now, as without us. */
	if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig))
		return errno == ESRCH ? -ESRCH : -errno;
	t->delivered++;
	return 0;
}

/* The trap is collected: read the registers (else detach). 0 or -errno. */
static int trapped(struct pt_thread *t, uint64_t stop_ns)
{
	int err;

	t->stop_ns = stop_ns;
	t->stopped = 1;
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->regs)) {
		err = -errno;
		if (ptrace(PTRACE_DETACH, t->tid, 0, 0))
			reap(t->tid);
		prio_restore(&t->prio);
		t->resume_ns = pt_now_ns();
		t->stopped = 0;
		return err;
	}
	t->in_syscall = stopped_in_syscall(&t->regs);
	return 0;
}

/*
 * Bench only: UKLP_TOOL_PAUSES=FILE appends each stop's duration
 * (pt_paused_ns(), ns) to FILE, one a line; written after the detach, so it
 * adds nothing to the pause.
 */
static void log_pause(const struct pt_thread *t)
{
	static int fd = -2;

	if (fd == -2) {
		const char *path = getenv("UKLP_TOOL_PAUSES");

		fd = path && *path
			 ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				0644)
			 : -1;
	}
	if (fd >= 0)
		dprintf(fd, "%llu\n", (unsigned long long)pt_paused_ns(t));
}

/**
 * pt_interrupt() - seize one thread and ask it to stop, without waiting
 * @tid:	thread id
 * @t:		filled: the thread, not stopped yet
 *
 * Return: 0, -ESRCH (gone), -EPERM, -EBUSY (traced by someone else), or
 * -errno.
 */
int pt_interrupt(pid_t tid, struct pt_thread *t)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->seize_ns = pt_now_ns();
	if (ptrace(PTRACE_SEIZE, tid, 0, 0))
		return seize_error(tid, errno);
	/* Before the interrupt: it is woken by it and must get a CPU. */
	prio_boost(tid, &t->prio);
	t->look_ns = pt_now_ns();
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
		err = -errno;
		/* Only a dying thread refuses: reap it if it is dead. */
		prio_restore(&t->prio);
		reap(tid);
		return err;
	}
	return 0;
}

/**
 * pt_wait_any() - wait until one of several interrupted threads is stopped
 * @ts:		threads given to pt_interrupt() whose stop was not collected
 *		yet (entries with ->stopped set are skipped)
 * @n:		number of @ts
 * @which:	out: the index in @ts of the thread the result is about
 * @block:	0: only look, do not wait (-EAGAIN when none has stopped)
 *
 * Each round looks at every thread without blocking; when none has
 * stopped, it blocks until some child of the tool has news (waitid with
 * WNOWAIT: nothing is consumed there), or polls every 50 us if that news
 * is about a child that is not one of @ts.
 *
 * Return: 0 (@ts[*which] stopped, registers read), -ESRCH (@ts[*which] is
 * gone, reaped), -ENOENT (no thread left to wait for), -EAGAIN (!@block
 * and none stopped yet), or -errno.
 */
int pt_wait_any(struct pt_thread **ts, size_t n, size_t *which, int block)
{
	for (;;) {
		int any = 0, foreign = 0;
		siginfo_t si;
		uint64_t now;

		for (size_t i = 0; i < n; i++) {
			struct pt_thread *t = ts[i];
			int st, ret;
			pid_t r;

			if (t->stopped)
				continue;
			any = 1;
			r = waitpid(t->tid, &st, __WALL | WNOHANG);
			if (r < 0 && errno == EINTR) {
				i--;
				continue;
			}
			*which = i;
			if (r < 0) {
				prio_restore(&t->prio);
				return errno == ECHILD ? -ESRCH : -errno;
			}
			if (r == 0) {
				t->look_ns = pt_now_ns();
				continue;
			}
			ret = handle_status(t, st);
			if (ret < 0) {
				prio_restore(&t->prio);
				return ret;
			}
			if (ret > 0)
				return trapped(t, t->look_ns);
			t->look_ns = pt_now_ns();
		}
		if (!any)
			return -ENOENT;
		if (!block)
			return -EAGAIN;
		/* Nothing yet: block until a child has news. */
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si,
			   WEXITED | WSTOPPED | WNOWAIT | __WALL)) {
			if (errno != EINTR)
				foreign = 1;
		} else {
			foreign = 1;
			for (size_t i = 0; i < n; i++)
				if (!ts[i]->stopped && ts[i]->tid == si.si_pid)
					foreign = 0;
		}
		if (foreign) {
			struct timespec ts50 = {0, 50000};

			nanosleep(&ts50, NULL);
		}
		/* Until now the tool was waiting, not busy: a thread found
		 * stopped in the next round stopped about now. */
		now = pt_now_ns();
		for (size_t i = 0; i < n; i++)
			if (!ts[i]->stopped && !foreign)
				ts[i]->look_ns = now;
	}
}

/**
 * pt_stop() - seize one thread and stop it where it is
 * @tid:	thread id
 * @t:		filled on success (registers read)
 *
 * Blocks until the thread stops: a thread in an uninterruptible sleep stops
 * when it leaves it.
 *
 * Return: 0, -ESRCH (gone), -EPERM, -EBUSY (traced by someone else), or
 * -errno.
 */
int pt_stop(pid_t tid, struct pt_thread *t)
{
	struct pt_thread *one = t;
	size_t which;
	int err;

	err = pt_interrupt(tid, t);
	if (err)
		return err;
	return pt_wait_any(&one, 1, &which, 1);
}

/**
 * pt_setregs() - write the stopped thread's registers
 * @t:		stopped thread
 * @regs:	new registers
 *
 * Return: 0 or -errno.
 */
int pt_setregs(struct pt_thread *t, const struct user_regs_struct *regs)
{
	if (ptrace(PTRACE_SETREGS, t->tid, 0, regs))
		return -errno;
	return 0;
}

/**
 * pt_getfpregs() - the stopped thread's x87/SSE state (fxsave layout, 512
 * bytes)
 * @t:		stopped thread
 * @fx:		out, 512 bytes
 *
 * Return: 0 or -errno.
 */
int pt_getfpregs(struct pt_thread *t, void *fx)
{
	if (ptrace(PTRACE_GETFPREGS, t->tid, 0, fx))
		return -errno;
	return 0;
}

/**
 * pt_setfpregs() - write the stopped thread's x87/SSE state (fxsave layout)
 * @t:		stopped thread
 * @fx:		512 bytes
 *
 * Return: 0 or -errno.
 */
int pt_setfpregs(struct pt_thread *t, const void *fx)
{
	if (ptrace(PTRACE_SETFPREGS, t->tid, 0, fx))
		return -errno;
	return 0;
}

/**
 * pt_getxstate() - the stopped thread's whole extended state (XSAVE
 * standard format, as XRSTOR takes it: x87, SSE, AVX, AVX-512, PKRU...)
 * @t:		stopped thread
 * @buf:	out
 * @cap:	size of @buf (the state is at most a few KiB; 16 KiB is plenty)
 * @len:	out: bytes of state
 *
 * Return: 0, -ENODEV (no XSAVE on this machine), -ENOSPC (@cap too small),
 * or -errno.
 */
int pt_getxstate(struct pt_thread *t, void *buf, size_t cap, size_t *len)
{
	struct iovec iov = {buf, cap};

	if (ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_X86_XSTATE, &iov))
		return errno == EINVAL || errno == ENODEV || errno == EIO
			   ? -ENODEV
			   : -errno;
	/* The kernel copies min(size, cap) and says how much. */
	if (iov.iov_len >= cap)
		return -ENOSPC;
	if (iov.iov_len < 512 + 64)
		return -ENODEV;
	*len = iov.iov_len;
	return 0;
}

/**
 * pt_resume() - let the thread go and detach from it
 * @t:	stopped thread
 *
 * Return: 0 or -errno; the pause it saw is returned by pt_paused_ns().
 */
int pt_resume(struct pt_thread *t)
{
	int err = 0;

	/* Nothing is pending: signals were passed on while stopping it. */
	if (ptrace(PTRACE_DETACH, t->tid, 0, 0)) {
		err = -errno;
		/* Killed while stopped: it is not ours to let go any more. */
		reap(t->tid);
	}
	t->resume_ns = pt_now_ns();
	t->stopped = 0;
	if (!t->keep_prio)
		prio_restore(&t->prio);
	log_pause(t);
	return err;
}

/**
 * pt_paused_ns() - how long the thread has been stopped (or was, after resume)
 * @t:	thread
 *
 * Return: nanoseconds.
 */
uint64_t pt_paused_ns(const struct pt_thread *t)
{
	uint64_t end = t->resume_ns ? t->resume_ns : pt_now_ns();

	if (!t->stop_ns || end < t->stop_ns)
		return 0;
	return end - t->stop_ns;
}
