// SPDX-License-Identifier: MIT
/*
 * poke - rewrite this process's code while other threads run it (x86-64).
 * See poke.h for the protocols; this file's comments cover the mechanics.
 *
 * Sites being poked and permanent breakpoints live in a fixed table of
 * slots that the SIGTRAP handler reads without locks. A slot's life:
 *
 * writer (under poke_lock)           SIGTRAP handler (any thread)
 * claim: owned 0 -> 1
 * fill addr, kind, insn, ...
 * publish: refs := 1 (release)       get: refs r -> r+1 if r > 0 (acquire)
 * write cc at addr, ...              read the fields
 * ... finish or undo the site        put: refs -= 1 (release)
 * retire: refs -= 1, wait for refs == 0 (acquire), clear, owned := 0
 *
 * so a handler either holds a reference while it reads a slot, which the
 * writer waits for before reusing it, or does not see the slot at all.
 * This is the kernel's bp_desc.refs scheme (try_get_desc()/put_desc()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <uklp/livepatch.h>

#include "backoff.h"
#include "threads.h"
#include "poke.h"
#include "x86insn.h"

/*
 * Weak: libuklp.so defines it (log.c); a unit test linking this file alone
 * does not, and gets the messages on stderr.
 */
#pragma weak uklp_printk

/* The handler relies on these being plain lock-free instructions. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "atomic long must be lock-free");
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "pointers must be lock-free");

#define POKE_SLOTS 64
/* Addresses of recently retired slots, to recognise late traps on them. */
#define POKE_HIST 64

enum poke_kind {
	POKE_TEXT = 1, /* a poke_text_bp() in progress */
	POKE_BP,       /* a permanent breakpoint */
};

enum poke_sync {
	POKE_SYNC_NONE,
	POKE_SYNC_CORE,
	POKE_SYNC_EXPEDITED,
	POKE_SYNC_MPROTECT,
	POKE_SYNC_FENCE,
};

/*
 * One site with an int3 of ours at @addr. The plain fields are written by
 * the owner only while @refs is 0 and read by handlers only while they hold
 * a reference.
 */
struct poke_slot {
	atomic_int owned; /* claimed by a writer */
	atomic_int refs;  /* 0: not live; else 1 (owner) + handlers */
	uintptr_t addr;	  /* the int3's address */
	size_t len;	  /* bytes of the site (1 for POKE_BP) */
	enum poke_kind kind;
	struct x86insn insn;	   /* TEXT: new insn; BP: original */
	bool insn_ok;		   /* BP: @insn is valid */
	uint8_t orig;		   /* BP: the byte the int3 replaced */
	poke_bp_handler_t handler; /* BP */
};

static pthread_mutex_t poke_lock = PTHREAD_MUTEX_INITIALIZER;
static bool poke_inited;      /* under poke_lock */
static bool poke_atfork_done; /* under poke_lock */
static atomic_int poke_mem_fd = -1;
static enum poke_sync poke_sync_mode = POKE_SYNC_NONE;
/* Written before the handler is installed; read-only while it is. */
static struct sigaction poke_old_act;

static struct poke_slot poke_slots[POKE_SLOTS];
static _Atomic uintptr_t poke_hist[POKE_HIST];
static unsigned int poke_hist_next; /* under poke_lock */
static atomic_ulong poke_traps;

/* The mprotect-ipi fallback of poke_sync_core(). */
static pthread_mutex_t poke_ipi_lock = PTHREAD_MUTEX_INITIALIZER;
static void *poke_ipi_page;
static size_t poke_ipi_size;

/* Async-signal-safe message on stderr (signal handler, fork child). */
static void poke_msg(const char *msg)
{
	ssize_t r;

	r = write(STDERR_FILENO, "uklp: poke: ", 12);
	r = write(STDERR_FILENO, msg, strlen(msg));
	r = write(STDERR_FILENO, "\n", 1);
	(void)r;
}

/* A warning from a normal context: into the runtime's log when linked. */
static void poke_warn(const char *msg)
{
	if (uklp_printk)
		uklp_printk(UKLP_LOG_WARNING, "uklp: poke: %s\n", msg);
	else
		poke_msg(msg);
}

/*
 * Read @len bytes of this process's memory at @addr through /proc/self/mem
 * (works on execute-only and PROT_NONE pages). Async-signal-safe. Returns
 * the number of bytes read (short at an unmapped page) or -errno.
 */
static ssize_t mem_read_upto(uintptr_t addr, void *buf, size_t len)
{
	int fd = atomic_load_explicit(&poke_mem_fd, memory_order_relaxed);
	size_t done = 0;
	ssize_t r;

	if (fd < 0)
		return -EBADF;
	while (done < len) {
		r = pread(fd, (char *)buf + done, len - done,
			  (off_t)(addr + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int mem_read(uintptr_t addr, void *buf, size_t len)
{
	ssize_t r = mem_read_upto(addr, buf, len);

	if (r < 0)
		return (int)r;
	return (size_t)r == len ? 0 : -EIO;
}

/*
 * Write through /proc/self/mem: the kernel writes with FOLL_FORCE, so a
 * read-only private text page is copied on write and stays r-xp. Only each
 * single byte is written atomically.
 */
static int mem_write(uintptr_t addr, const void *buf, size_t len)
{
	int fd = atomic_load_explicit(&poke_mem_fd, memory_order_relaxed);
	size_t done = 0;
	ssize_t r;

	if (fd < 0)
		return -EBADF;
	while (done < len) {
		r = pwrite(fd, (const char *)buf + done, len - done,
			   (off_t)(addr + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

static long membarrier(int cmd, unsigned int flags)
{
	return syscall(__NR_membarrier, cmd, flags, 0);
}

/* Touch-then-revoke a private page: the TLB shootdown IPIs every CPU. */
static int poke_ipi_mprotect(void)
{
	int err = 0;

	pthread_mutex_lock(&poke_ipi_lock);
	if (mprotect(poke_ipi_page, poke_ipi_size, PROT_READ | PROT_WRITE)) {
		err = -errno;
		goto out;
	}
	/* Dirty the page so that revoking access must flush every TLB. */
	atomic_fetch_add_explicit((atomic_long *)poke_ipi_page, 1,
				  memory_order_relaxed);
	if (mprotect(poke_ipi_page, poke_ipi_size, PROT_NONE))
		err = -errno;
out:
	pthread_mutex_unlock(&poke_ipi_lock);
	return err;
}

/**
 * poke_sync_core() - make every thread execute a core-serializing instruction
 *
 * See poke.h: pairs with the other threads' instruction fetch.
 */
void poke_sync_core(void)
{
	/*
	 * Pairs with the instruction fetch of every other thread: each
	 * running thread gets an IPI and executes a core-serializing
	 * instruction (IRET, or the SYNC_CORE sync_core()) before it returns
	 * to user space; a thread not running serializes when it is switched
	 * back in (CR3 write or sync_core_before_usermode()). Code written
	 * before this call is then what every thread fetches.
	 */
	switch (poke_sync_mode) {
	case POKE_SYNC_CORE:
		if (!membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0))
			return;
		break;
	case POKE_SYNC_EXPEDITED:
		/* On x86 the IPI returns to user mode with IRET. */
		if (!membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0))
			return;
		break;
	case POKE_SYNC_MPROTECT:
		if (!poke_ipi_mprotect())
			return;
		break;
	default:
		break;
	}
	/*
	 * Last resort, pairing with no barrier of the other threads (none
	 * can be forced): it orders our own writes only; other CPUs fetch
	 * the new code after their next serializing event (interrupt,
	 * context switch).
	 */
	atomic_thread_fence(memory_order_seq_cst);
}

/**
 * poke_sync_method() - how poke_sync_core() works
 *
 * Return: a constant string naming the mechanism (see poke.h).
 */
const char *poke_sync_method(void)
{
	switch (poke_sync_mode) {
	case POKE_SYNC_CORE:
		return "membarrier-sync-core";
	case POKE_SYNC_EXPEDITED:
		return "membarrier-expedited";
	case POKE_SYNC_MPROTECT:
		return "mprotect-ipi";
	case POKE_SYNC_FENCE:
		return "fence";
	default:
		return "none";
	}
}

/*
 * Register with membarrier (again in a fork child: the state is per mm).
 * @child: in a fork child, where the log's lock may be held: no warnings.
 */
static void poke_sync_setup(bool child)
{
	long cmds = membarrier(MEMBARRIER_CMD_QUERY, 0);

	if (cmds < 0)
		cmds = 0;
	if ((cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) &&
	    !membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
			0)) {
		poke_sync_mode = POKE_SYNC_CORE;
		return;
	}
	if ((cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    !membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0)) {
		if (!child)
			poke_warn(
			    "no membarrier SYNC_CORE, using PRIVATE_EXPEDITED");
		poke_sync_mode = POKE_SYNC_EXPEDITED;
		return;
	}
	if (!poke_ipi_page) {
		poke_ipi_size = (size_t)sysconf(_SC_PAGESIZE);
		poke_ipi_page = mmap(NULL, poke_ipi_size, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (poke_ipi_page == MAP_FAILED)
			poke_ipi_page = NULL;
	}
	if (poke_ipi_page && !poke_ipi_mprotect()) {
		if (!child)
			poke_warn(
			    "no membarrier, using mprotect TLB-shootdown IPIs");
		poke_sync_mode = POKE_SYNC_MPROTECT;
		return;
	}
	if (!child)
		poke_warn("no way to serialize other CPUs, using a fence only");
	poke_sync_mode = POKE_SYNC_FENCE;
}

/* --- slots ------------------------------------------------------------ */

/*
 * Take a reference on a live slot (a handler). Async-signal-safe. A
 * handler holding one is counted in its thread's uklp_tls.readers as an
 * SRCU reader is (srcu.h): slot_retire() waits for it, and the tool, if
 * it waits for the runtime meanwhile, gives such threads a CPU.
 */
static bool slot_get(struct poke_slot *s)
{
	int r = atomic_load_explicit(&s->refs, memory_order_relaxed);

	/*
	 * The acquire pairs with the release in slot_publish(): the slot's
	 * fields are then the ones its owner wrote.
	 */
	uklp_tls.readers++;
	while (r > 0)
		if (atomic_compare_exchange_weak_explicit(&s->refs, &r, r + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	uklp_tls.readers--;
	return false;
}

/* Drop the reference of slot_get(). */
static void slot_put(struct poke_slot *s)
{
	/* Pairs with the acquire in slot_retire()'s wait. */
	atomic_fetch_sub_explicit(&s->refs, 1, memory_order_release);
	uklp_tls.readers--;
}

static struct poke_slot *slot_claim(void)
{
	int i, zero;

	for (i = 0; i < POKE_SLOTS; i++) {
		zero = 0;
		/* Acquire pairs with the release in slot_retire(). */
		if (atomic_compare_exchange_strong_explicit(
			&poke_slots[i].owned, &zero, 1, memory_order_acquire,
			memory_order_relaxed))
			return &poke_slots[i];
	}
	return NULL;
}

static void slot_publish(struct poke_slot *s)
{
	/*
	 * Pairs with the acquire in slot_get(). The cc written after this
	 * (a syscall, and x86 keeps stores in order) cannot be fetched by a
	 * thread before it can see refs == 1.
	 */
	atomic_store_explicit(&s->refs, 1, memory_order_release);
}

/* Called only once the site no longer holds our int3 (or is given up). */
static void slot_retire(struct poke_slot *s)
{
	unsigned int h = poke_hist_next++ % POKE_HIST, n = 0;

	/* Pairs with the acquire in hist_has(). */
	atomic_store_explicit(&poke_hist[h], s->addr, memory_order_release);
	/* The owner's reference (slot_publish()); pairs with the acquire in
	 * the wait below as slot_put()'s release does. */
	atomic_fetch_sub_explicit(&s->refs, 1, memory_order_release);
	/* Pairs with the release in slot_put() of each handler. */
	while (atomic_load_explicit(&s->refs, memory_order_acquire))
		backoff_wait(&n);
	s->addr = 0;
	s->handler = NULL;
	/* Pairs with the acquire in slot_claim(). */
	atomic_store_explicit(&s->owned, 0, memory_order_release);
}

/* A live slot overlapping [addr, addr + len). Writers only. */
static struct poke_slot *slot_overlap(uintptr_t addr, size_t len)
{
	struct poke_slot *s;
	int i;

	for (i = 0; i < POKE_SLOTS; i++) {
		s = &poke_slots[i];
		if (!atomic_load_explicit(&s->owned, memory_order_relaxed) ||
		    !atomic_load_explicit(&s->refs, memory_order_relaxed))
			continue;
		if (s->addr < addr + len && addr < s->addr + s->len)
			return s;
	}
	return NULL;
}

static bool hist_has(uintptr_t addr)
{
	int i;

	/* Acquire pairs with the release in slot_retire(). */
	for (i = 0; i < POKE_HIST; i++)
		if (atomic_load_explicit(&poke_hist[i], memory_order_acquire) ==
		    addr)
			return true;
	return false;
}

/* --- moving threads parked in code being replaced --------------------- */

/*
 * A request of poke_text_bp_move() (one at a time, under poke_lock). The
 * fields are written only while mv_cookie is 0 and no handler is inside;
 * a handler reads them only after it counted itself in mv_inside and then
 * saw its own cookie in mv_cookie (both seq_cst: either the writer sees
 * the handler inside and waits, or the handler sees the cookie cleared).
 */
#define MOVE_TAG     0x75000000 /* cookies are 0x75xxxxxx ('u') */
#define MOVE_MASK    0xff000000
#define MOVE_WAIT_NS (2 * 1000000000L)

static atomic_int mv_cookie;
static atomic_int mv_inside;
static uintptr_t mv_lo, mv_hi;
static poke_move_fn mv_fn;
static void *mv_arg;
static pid_t *mv_tids;
static atomic_int *mv_acked;
static size_t mv_n;
static unsigned int mv_seq; /* under poke_lock */
static atomic_ulong poke_moved;

/*
 * The signal of the move requests: a real-time one, not SIGTRAP. The
 * kernel keeps at most one instance of a standard signal pending per
 * thread and drops the others, and a thread may meet the transient int3
 * (whose SIGTRAP the kernel forces) while our request is pending, or the
 * other way round. Merged into our request, the trap reaches the handler
 * as a request with the PC after the int3: not an instruction boundary
 * (the thread went on in the middle of an instruction), or one that a
 * thread parked after a 1-byte first instruction (push %rbp) also has,
 * with nothing to tell the two apart (the thread skipped that
 * instruction). Merged into the trap, the request was never answered.
 * Real-time signals queue apart, and the kernel delivers the forced
 * SIGTRAP first: the request then finds the thread already sent on.
 *
 * Chosen at the first request (the program's handlers are in place by
 * then): the highest real-time signal with the default disposition, i.e.
 * one the program does not use. Taken again if the program installs its
 * own handler on it later. Under poke_lock; the handler reads
 * mv_old_act, written before it is installed.
 */
static int mv_sig;
static struct sigaction mv_old_act;
static void poke_sigmove(int sig, siginfo_t *info, void *ctx);

/* The move request's signal, in the thread it was sent to. */
static void handle_move(ucontext_t *uc, int cookie)
{
	greg_t *g = uc->uc_mcontext.gregs;

	atomic_fetch_add(&mv_inside, 1);
	if (atomic_load(&mv_cookie) == cookie) {
		uintptr_t pc = (uintptr_t)g[REG_RIP], to;
		pid_t me = (pid_t)syscall(SYS_gettid);

		if (pc > mv_lo && pc < mv_hi) {
			to = mv_fn(mv_arg, pc);
			if (to) {
				g[REG_RIP] = (greg_t)to;
				atomic_fetch_add_explicit(&poke_moved, 1,
							  memory_order_relaxed);
			}
		}
		for (size_t i = 0; i < mv_n; i++)
			if (mv_tids[i] == me)
				/* Pairs with the acquire in move_parked(). */
				atomic_store_explicit(&mv_acked[i], 1,
						      memory_order_release);
	}
	atomic_fetch_sub(&mv_inside, 1);
}

/*
 * Might thread @tid be stopped in (@lo, @hi)? Not when the kernel says it
 * sleeps with its PC elsewhere (/proc/PID/task/TID/syscall: "NR args sp
 * pc", "-1 sp pc" or "running").
 */
static bool may_be_in(pid_t tid, uintptr_t lo, uintptr_t hi)
{
	char path[64], buf[256], *sp;
	uintptr_t pc;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	if (!strncmp(buf, "running", 7))
		return true;
	sp = strrchr(buf, ' ');
	if (!sp)
		return true;
	pc = (uintptr_t)strtoull(sp + 1, NULL, 0);
	return pc > lo && pc < hi;
}

static int read_tids(pid_t **out, size_t *n)
{
	size_t cap = 64, k = 0;
	pid_t *t = malloc(cap * sizeof(*t)), self = (pid_t)syscall(SYS_gettid);
	struct dirent *de;
	DIR *d;

	if (!t)
		return -ENOMEM;
	d = opendir("/proc/self/task");
	if (!d) {
		free(t);
		return -errno;
	}
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (k == cap) {
			pid_t *nt = realloc(t, 2 * cap * sizeof(*t));

			if (!nt) {
				closedir(d);
				free(t);
				return -ENOMEM;
			}
			t = nt;
			cap *= 2;
		}
		t[k++] = tid;
	}
	closedir(d);
	*out = t;
	*n = k;
	return 0;
}

/* The move request signal, its handler installed (poke_lock held). */
static int move_sig(void)
{
	struct sigaction act, cur;

	if (mv_sig) {
		if (!sigaction(mv_sig, NULL, &cur) &&
		    (cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_sigaction == poke_sigmove)
			return mv_sig;
		mv_sig = 0; /* the program took it over: leave it to it */
	}
	memset(&act, 0, sizeof(act));
	act.sa_sigaction = poke_sigmove;
	act.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&act.sa_mask);
	for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
		if (sigaction(sig, NULL, &cur) || cur.sa_handler != SIG_DFL)
			continue;
		mv_old_act = cur;
		if (sigaction(sig, &act, &cur))
			continue;
		if (cur.sa_handler != SIG_DFL) {
			/* The program took it in between: give it back. */
			sigaction(sig, &cur, NULL);
			continue;
		}
		mv_sig = sig;
		return sig;
	}
	return -EAGAIN;
}

/*
 * Move every other thread whose PC is in (@lo, @hi) with @fn: queue our
 * move_sig() with a cookie to each thread that may be there and wait for
 * its answer (poke_lock held). New threads cannot be there: the cc at @lo is
 * the only way in.
 */
static int move_parked(uintptr_t lo, uintptr_t hi, poke_move_fn fn, void *arg)
{
	struct timespec t0, now, nap = {0, 100000};
	pid_t pid = getpid(), *tids = NULL;
	atomic_int *acked;
	size_t n = 0, left;
	unsigned int spins = 0;
	int cookie, err, sig;

	sig = move_sig();
	if (sig < 0) {
		poke_warn("no free real-time signal to ask threads to leave "
			  "the code being replaced");
		return sig;
	}
	err = read_tids(&tids, &n);
	if (err)
		return err;
	acked = calloc(n ? n : 1, sizeof(*acked));
	if (!acked) {
		free(tids);
		return -ENOMEM;
	}
	mv_lo = lo;
	mv_hi = hi;
	mv_fn = fn;
	mv_arg = arg;
	mv_tids = tids;
	mv_acked = acked;
	mv_n = n;
	cookie = (int)(MOVE_TAG | (++mv_seq & 0xffffff));
	if (!(cookie & ~MOVE_MASK))
		cookie = (int)(MOVE_TAG | (++mv_seq & 0xffffff));
	/* Pairs with the seq_cst load in handle_move(). */
	atomic_store(&mv_cookie, cookie);

	for (size_t i = 0; i < n; i++) {
		siginfo_t si;

		if (!may_be_in(tids[i], lo, hi)) {
			atomic_store(&acked[i], 1);
			continue;
		}
		memset(&si, 0, sizeof(si));
		si.si_signo = sig;
		si.si_code = SI_QUEUE;
		si.si_pid = pid;
		si.si_uid = getuid();
		si.si_value.sival_int = cookie;
		if (syscall(SYS_rt_tgsigqueueinfo, pid, tids[i], sig, &si)) {
			/* ESRCH: gone; else (EAGAIN: RLIMIT_SIGPENDING) the
			 * thread cannot be asked: give up. */
			if (errno != ESRCH && !err)
				err = -errno;
			atomic_store(&acked[i], 1);
		}
	}
	if (err)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		left = 0;
		for (size_t i = 0; i < n; i++) {
			/* Pairs with the release in handle_move(). */
			if (atomic_load_explicit(&acked[i],
						 memory_order_acquire))
				continue;
			if (syscall(SYS_tgkill, pid, tids[i], 0) &&
			    errno == ESRCH) {
				atomic_store(&acked[i], 1);
				continue;
			}
			left++;
		}
		if (!left)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000000000L +
			(now.tv_nsec - t0.tv_nsec) >
		    MOVE_WAIT_NS) {
			err = -ETIMEDOUT;
			break;
		}
		nanosleep(&nap, NULL);
	}
out:
	/* Pairs with the seq_cst increment in handle_move(). */
	atomic_store(&mv_cookie, 0);
	while (atomic_load(&mv_inside))
		backoff_wait(&spins);
	mv_n = 0;
	mv_tids = NULL;
	mv_acked = NULL;
	free(acked);
	free(tids);
	if (err == -ETIMEDOUT)
		poke_warn("a thread did not answer the request to leave the "
			  "code being replaced");
	return err;
}

/* --- the SIGTRAP handler ---------------------------------------------- */

static void push(greg_t *g, uint64_t v)
{
	g[REG_RSP] -= 8;
	memcpy((void *)(uintptr_t)g[REG_RSP], &v, sizeof(v));
}

static uint64_t load64(uint64_t addr)
{
	uint64_t v;

	memcpy(&v, (const void *)(uintptr_t)addr, sizeof(v));
	return v;
}

/* Make the thread in @uc behave as if it executed @insn at @addr. */
static void emulate(ucontext_t *uc, uintptr_t addr, const struct x86insn *insn)
{
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t next = addr + insn->len;
	uint64_t target;

	switch (insn->kind) {
	case X86_NOP:
	case X86_ENDBR:
	case X86_INT3: /* refused by poke_text_bp() and poke_bp_install() */
		g[REG_RIP] = (greg_t)next;
		break;
	case X86_JMP:
		g[REG_RIP] = (greg_t)insn->target;
		break;
	case X86_CALL:
		push(g, next);
		g[REG_RIP] = (greg_t)insn->target;
		break;
	case X86_JMP_IND_RIP:
		g[REG_RIP] = (greg_t)load64(insn->target);
		break;
	case X86_CALL_IND_RIP:
		target = load64(insn->target);
		push(g, next);
		g[REG_RIP] = (greg_t)target;
		break;
	case X86_RET:
		g[REG_RIP] = (greg_t)load64((uint64_t)g[REG_RSP]);
		g[REG_RSP] += 8;
		break;
	}
}

/* Handle a trap at @trap if a live slot is there. */
static bool handle_slots(ucontext_t *uc, uintptr_t trap)
{
	greg_t *g = uc->uc_mcontext.gregs;
	struct poke_slot *s;
	struct x86insn insn;
	int i;

	for (i = 0; i < POKE_SLOTS; i++) {
		s = &poke_slots[i];
		if (!slot_get(s))
			continue;
		if (s->addr != trap) {
			slot_put(s);
			continue;
		}
		if (s->kind == POKE_TEXT) {
			insn = s->insn;
			slot_put(s);
			emulate(uc, trap, &insn);
			atomic_fetch_add_explicit(&poke_traps, 1,
						  memory_order_relaxed);
			return true;
		}
		/* A breakpoint: our reference holds poke_bp_remove() off. */
		g[REG_RIP] = (greg_t)trap;
		s->handler((void *)trap, uc);
		if ((uintptr_t)g[REG_RIP] == trap) {
			if (!s->insn_ok) {
				poke_msg("breakpoint handler left the PC at an "
					 "instruction it cannot emulate");
				abort();
			}
			emulate(uc, trap, &s->insn);
		}
		slot_put(s);
		return true;
	}
	return false;
}

/*
 * An int3 trap with the PC after it at @trap + 1. Returns true when it was
 * ours (the PC in @uc is set). Else *@insn is the address of the foreign
 * trapping instruction.
 */
static bool handle_int3(ucontext_t *uc, uintptr_t trap, uintptr_t *insn)
{
	greg_t *g = uc->uc_mcontext.gregs;
	uint8_t b[2];
	int tries;

	*insn = trap;
	for (tries = 0; tries < 2; tries++) {
		if (handle_slots(uc, trap))
			return true;
		if (mem_read(trap, &b[1], 1))
			return false;
		if (b[1] != X86INSN_INT3)
			break;
		/*
		 * A cc that is in no slot: foreign, or the int3 of a poke
		 * published after our scan. Pairs with the release in
		 * slot_publish(): if the cc we read is a new poke's, a second
		 * scan sees its slot.
		 */
		atomic_thread_fence(memory_order_seq_cst);
	}
	if (b[1] == X86INSN_INT3) {
		/*
		 * Still a cc in no slot. If the address was ours recently, it
		 * is a later poke of ours at the same place whose slot we
		 * raced past (a trapped thread holds no slot reference until
		 * its handler finds one): re-execute the int3, which traps
		 * again and finds the live slot or the final bytes.
		 */
		if (hist_has(trap)) {
			g[REG_RIP] = (greg_t)trap;
			return true;
		}
		return false;
	}
	/*
	 * The cc is gone: a poke or breakpoint of ours finished between the
	 * trap and now. Re-execute what is there now. A foreign "int $3"
	 * (cd 03) also traps with no cc at PC-1: it is told apart by its
	 * bytes, unless the address was ours recently.
	 */
	if (hist_has(trap)) {
		atomic_fetch_add_explicit(&poke_traps, 1, memory_order_relaxed);
	} else if (trap > 0 && !mem_read(trap - 1, &b[0], 1) && b[0] == 0xcd &&
		   b[1] == 0x03) {
		*insn = trap - 1;
		return false;
	}
	g[REG_RIP] = (greg_t)trap;
	return true;
}

/* Give a signal that is not ours to the previous disposition @old. */
static void chain(const struct sigaction *old, int sig, siginfo_t *info,
		  void *ctx, uintptr_t insn)
{
	ucontext_t *uc = ctx;
	sigset_t mask, saved;

	if (old->sa_handler == SIG_IGN && !insn)
		return;
	if (old->sa_handler == SIG_DFL || old->sa_handler == SIG_IGN) {
		sigaction(sig, old, NULL);
		if (insn) {
			/* Re-execute the int3: the kernel decides. */
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)insn;
			return;
		}
		sigemptyset(&mask);
		sigaddset(&mask, sig);
		pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
		raise(sig);
		return;
	}
	mask = old->sa_mask;
	if (!(old->sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	pthread_sigmask(SIG_BLOCK, &mask, &saved);
	if (old->sa_flags & SA_SIGINFO)
		old->sa_sigaction(sig, info, ctx);
	else
		old->sa_handler(sig);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

static void poke_sigtrap(int sig, siginfo_t *info, void *ctx)
{
	ucontext_t *uc = ctx;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t insn = 0;
	int saved_errno = errno;

	/* int3 (and int $3) trap with si_code SI_KERNEL, PC after them. */
	if (info->si_code == SI_KERNEL && pc && handle_int3(uc, pc - 1, &insn))
		goto out;
	chain(&poke_old_act, sig, info, ctx, insn);
out:
	errno = saved_errno;
}

/* A move request of poke_text_bp_move() (a late one is dropped). */
static void poke_sigmove(int sig, siginfo_t *info, void *ctx)
{
	int saved_errno = errno;

	if (info->si_code == SI_QUEUE && info->si_pid == getpid() &&
	    (info->si_value.sival_int & MOVE_MASK) == MOVE_TAG)
		handle_move(ctx, info->si_value.sival_int);
	else
		chain(&mv_old_act, sig, info, ctx, 0);
	errno = saved_errno;
}

/* --- fork ------------------------------------------------------------- */

/* fork() waits for pokes in progress, so the child has none half-done. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&poke_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&poke_lock);
}

/* The inherited /proc/self/mem is the parent's memory: open the child's. */
static void atfork_child(void)
{
	int fd = atomic_load_explicit(&poke_mem_fd, memory_order_relaxed);
	int nfd;

	if (fd >= 0) {
		nfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (nfd < 0 || dup3(nfd, fd, O_CLOEXEC) < 0) {
			poke_msg("cannot reopen /proc/self/mem after fork");
			atomic_store_explicit(&poke_mem_fd, -1,
					      memory_order_relaxed);
			close(fd);
		}
		if (nfd >= 0)
			close(nfd);
		poke_sync_setup(true);
	}
	pthread_mutex_unlock(&poke_lock);
}

/* --- public API ------------------------------------------------------- */

/**
 * poke_init() - open /proc/self/mem, set up membarrier and the SIGTRAP handler
 *
 * Idempotent; see poke.h for the chaining rules.
 *
 * Return: 0 or -errno.
 */
int poke_init(void)
{
	struct sigaction act, cur;
	int fd, err;

	pthread_mutex_lock(&poke_lock);
	if (poke_inited) {
		err = 0;
		goto out;
	}
	fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (!poke_atfork_done) {
		err = -pthread_atfork(atfork_prepare, atfork_parent,
				      atfork_child);
		if (err)
			goto err_close;
		poke_atfork_done = true;
	}
	poke_sync_setup(false);
	atomic_store_explicit(&poke_mem_fd, fd, memory_order_relaxed);

	/* Know the previous disposition before our handler can run. */
	if (sigaction(SIGTRAP, NULL, &poke_old_act)) {
		err = -errno;
		goto err_fd;
	}
	memset(&act, 0, sizeof(act));
	act.sa_sigaction = poke_sigtrap;
	act.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART | SA_ONSTACK;
	sigemptyset(&act.sa_mask);
	if (sigaction(SIGTRAP, &act, &cur)) {
		err = -errno;
		goto err_fd;
	}
	if (cur.sa_handler != poke_old_act.sa_handler)
		poke_old_act = cur; /* changed in between; rare */
	if ((poke_old_act.sa_flags & SA_SIGINFO) &&
	    poke_old_act.sa_sigaction == poke_sigtrap) {
		memset(&poke_old_act, 0, sizeof(poke_old_act));
		poke_old_act.sa_handler = SIG_DFL;
	}
	poke_inited = true;
	err = 0;
	goto out;

err_fd:
	atomic_store_explicit(&poke_mem_fd, -1, memory_order_relaxed);
err_close:
	close(fd);
out:
	pthread_mutex_unlock(&poke_lock);
	return err;
}

static int bp_remove_locked(struct poke_slot *s)
{
	uint8_t cur;
	int err;

	err = mem_read(s->addr, &cur, 1);
	if (err)
		return err;
	if (cur != X86INSN_INT3) {
		slot_retire(s);
		return -EILSEQ;
	}
	err = mem_write(s->addr, &s->orig, 1);
	if (err)
		return err;
	poke_sync_core();
	slot_retire(s);
	return 0;
}

/**
 * poke_fini() - remove breakpoints, restore SIGTRAP, close /proc/self/mem
 */
void poke_fini(void)
{
	struct poke_slot *s;
	int i, fd;

	pthread_mutex_lock(&poke_lock);
	if (!poke_inited)
		goto out;
	for (i = 0; i < POKE_SLOTS; i++) {
		s = &poke_slots[i];
		if (atomic_load_explicit(&s->owned, memory_order_relaxed) &&
		    atomic_load_explicit(&s->refs, memory_order_relaxed) &&
		    s->kind == POKE_BP && bp_remove_locked(s))
			poke_warn(
			    "poke_fini: a breakpoint could not be removed");
	}
	sigaction(SIGTRAP, &poke_old_act, NULL);
	if (mv_sig) {
		struct sigaction cur;

		if (!sigaction(mv_sig, NULL, &cur) &&
		    (cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_sigaction == poke_sigmove) {
			/* SIG_IGN first: drops a late request still pending
			 * in a thread that blocks the signal. */
			signal(mv_sig, SIG_IGN);
			sigaction(mv_sig, &mv_old_act, NULL);
		}
		mv_sig = 0;
	}
	fd = atomic_exchange_explicit(&poke_mem_fd, -1, memory_order_relaxed);
	close(fd);
	poke_inited = false;
out:
	pthread_mutex_unlock(&poke_lock);
}

/**
 * poke_text() - write code that no thread is executing (no sync)
 * @addr:	where
 * @old:	the bytes expected at @addr
 * @new:	the bytes to write
 * @len:	their length
 *
 * Return: 0, -EINVAL, -EBADF, -EBUSY, -EILSEQ or an I/O -errno (poke.h).
 */
int poke_text(void *addr, const void *old, const void *new, size_t len)
{
	uintptr_t a = (uintptr_t)addr;
	uint8_t cur[64];
	size_t off, n;
	int err;

	if (!addr || !old || !new || !len)
		return -EINVAL;
	pthread_mutex_lock(&poke_lock);
	err = -EBADF;
	if (!poke_inited)
		goto out;
	err = -EBUSY;
	if (slot_overlap(a, len))
		goto out;
	for (off = 0; off < len; off += n) {
		n = len - off < sizeof(cur) ? len - off : sizeof(cur);
		err = mem_read(a + off, cur, n);
		if (err)
			goto out;
		err = -EILSEQ;
		if (memcmp(cur, (const uint8_t *)old + off, n))
			goto out;
	}
	err = mem_write(a, new, len);
out:
	pthread_mutex_unlock(&poke_lock);
	return err;
}

/*
 * Does @insn behave as one instruction of @len bytes: no thread can be
 * stopped inside it, nor come back into it? Either it is @len long, or it
 * is shorter and never continues after itself (jmp, ret): "e9 <rel32> 90"
 * over a 6-byte "ff 15 <disp32>" is fine, five 1-byte NOPs are not.
 */
static bool one_insn(const struct x86insn *insn, size_t len)
{
	if (insn->kind == X86_INT3)
		return false;
	if (insn->len == len)
		return true;
	return insn->len < len &&
	       (insn->kind == X86_JMP || insn->kind == X86_JMP_IND_RIP ||
		insn->kind == X86_RET);
}

/*
 * The int3 protocol shared by poke_text_bp() and poke_text_bp_move(): a
 * thread that meets the transient cc is emulated as executing @emul; with
 * @park_end, the threads parked in (a, @park_end) are moved once the cc is
 * visible. Byte sequence: o[0] o[1..] -> cc o[1..] -> [move] -> cc n[1..]
 * -> n[0] n[1..], each write followed by poke_sync_core() (which pairs
 * with the other threads' instruction fetch).
 */
static int text_bp(uintptr_t a, const uint8_t *o, const uint8_t *n, size_t len,
		   const struct x86insn *emul, uintptr_t park_end,
		   poke_move_fn move, void *arg)
{
	static const uint8_t int3 = X86INSN_INT3;
	uint8_t cur[X86INSN_MAX_LEN];
	struct poke_slot *s;
	int err;

	pthread_mutex_lock(&poke_lock);
	err = -EBADF;
	if (!poke_inited)
		goto err_unlock;
	err = -EBUSY;
	if (slot_overlap(a, park_end > a + len ? park_end - a : len))
		goto err_unlock;
	err = mem_read(a, cur, len);
	if (err)
		goto err_unlock;
	err = -EILSEQ;
	if (memcmp(cur, o, len))
		goto err_unlock;
	err = -ENOSPC;
	s = slot_claim();
	if (!s)
		goto err_unlock;
	s->addr = a;
	s->len = len;
	s->kind = POKE_TEXT;
	s->insn = *emul;
	slot_publish(s);

	/* o[0] o[1..] -> cc o[1..]: from here on, traps emulate @emul. */
	err = mem_write(a, &int3, 1);
	if (err)
		goto err_retire;
	poke_sync_core();
	/* Nobody may still be between the instructions being replaced. */
	if (park_end > a + 1) {
		err = move_parked(a, park_end, move, arg);
		if (err)
			goto err_restore;
	}
	/* cc o[1..] -> cc n[1..] */
	if (len > 1 && memcmp(o + 1, n + 1, len - 1)) {
		err = mem_write(a + 1, n + 1, len - 1);
		if (err)
			goto err_restore;
		poke_sync_core();
	}
	/* cc n[1..] -> n[0] n[1..] */
	err = mem_write(a, n, 1);
	if (err)
		goto err_restore;
	poke_sync_core();
	slot_retire(s);
	pthread_mutex_unlock(&poke_lock);
	return 0;

err_restore:
	/* The same protocol back: cc ?[1..] -> cc o[1..] -> o[0] o[1..] */
	if (len > 1 && mem_write(a + 1, o + 1, len - 1))
		goto err_stuck;
	poke_sync_core();
	if (mem_write(a, o, 1))
		goto err_stuck;
	poke_sync_core();
err_retire:
	slot_retire(s);
err_unlock:
	pthread_mutex_unlock(&poke_lock);
	return err;

err_stuck:
	/* The cc stays; the live slot keeps emulating @emul. */
	poke_warn("a failed poke could not be undone; the site stays trapped");
	goto err_unlock;
}

/**
 * poke_text_bp() - replace one instruction with the int3 protocol
 * @addr:	the instruction's address
 * @old:	the instruction there now
 * @new:	the instruction to install
 * @len:	their length, 1..X86INSN_MAX_LEN
 *
 * Byte sequence (poke.h): o[0] o[1..] -> cc o[1..] -> cc n[1..] ->
 * n[0] n[1..], each step followed by poke_sync_core().
 *
 * Return: 0, -EINVAL, -EBADF, -EBUSY, -ENOSPC, -EILSEQ or an I/O -errno.
 */
int poke_text_bp(void *addr, const void *old, const void *new, size_t len)
{
	uintptr_t a = (uintptr_t)addr;
	struct x86insn insn, oinsn;

	if (!addr || !old || !new || len < 1 || len > X86INSN_MAX_LEN)
		return -EINVAL;
	if (x86insn_decode(new, len, a, &insn) || !one_insn(&insn, len))
		return -EINVAL;
	if (!x86insn_decode(old, len, a, &oinsn) && !one_insn(&oinsn, len))
		return -EINVAL;
	return text_bp(a, old, new, len, &insn, 0, NULL, NULL);
}

/**
 * poke_text_bp_move() - the int3 protocol over several instructions,
 *			 moving parked threads
 * @addr:	the first byte
 * @old:	the bytes there now
 * @new:	the bytes to install
 * @len:	their length, 1..X86INSN_MAX_LEN
 * @trap_to:	where a thread meeting the transient int3 goes
 * @park_end:	end of the range threads are moved out of (0: none)
 * @move:	where a parked thread goes
 * @arg:	its argument
 *
 * Byte sequence (poke.h): o[0] o[1..] -> cc o[1..] -> (threads parked in
 * (addr, park_end) moved) -> cc n[1..] -> n[0] n[1..], each write followed
 * by poke_sync_core().
 *
 * Return: 0, -EINVAL, -EBADF, -EBUSY, -ENOSPC, -EILSEQ, -ETIMEDOUT,
 * -EAGAIN or an I/O -errno.
 */
int poke_text_bp_move(void *addr, const void *old, const void *new, size_t len,
		      uintptr_t trap_to, uintptr_t park_end, poke_move_fn move,
		      void *arg)
{
	/* A thread meeting the cc jumps to @trap_to. */
	struct x86insn jmp = {
	    .kind = X86_JMP, .len = (unsigned int)len, .target = trap_to};
	uintptr_t a = (uintptr_t)addr;

	if (!addr || !old || !new || len < 1 || len > X86INSN_MAX_LEN ||
	    !trap_to || (park_end && (park_end <= a || !move)) ||
	    ((const uint8_t *)new)[0] == X86INSN_INT3)
		return -EINVAL;
	return text_bp(a, old, new, len, &jmp, park_end, move, arg);
}

/**
 * poke_moved_threads() - parked threads moved by poke_text_bp_move()
 *
 * Return: how many since the process started.
 */
unsigned long poke_moved_threads(void)
{
	return atomic_load_explicit(&poke_moved, memory_order_relaxed);
}

/**
 * poke_bp_install() - set a permanent breakpoint: o[0] -> cc
 * @addr:	the first byte of an instruction
 * @handler:	called in signal context when a thread traps at @addr
 *
 * Return: 0, -EINVAL, -EBADF, -EEXIST, -EBUSY, -ENOSPC or an I/O -errno.
 */
int poke_bp_install(void *addr, poke_bp_handler_t handler)
{
	static const uint8_t int3 = X86INSN_INT3;
	uintptr_t a = (uintptr_t)addr;
	uint8_t cur[X86INSN_MAX_LEN];
	struct poke_slot *s;
	ssize_t got;
	int err;

	if (!addr || !handler)
		return -EINVAL;
	pthread_mutex_lock(&poke_lock);
	err = -EBADF;
	if (!poke_inited)
		goto err_unlock;
	s = slot_overlap(a, 1);
	if (s) {
		err = s->kind == POKE_BP && s->addr == a ? -EEXIST : -EBUSY;
		goto err_unlock;
	}
	/* The original instruction may end the mapping: read what there is. */
	got = mem_read_upto(a, cur, sizeof(cur));
	err = got < 0 ? (int)got : -EIO;
	if (got < 1)
		goto err_unlock;
	err = -EBUSY;
	if (cur[0] == X86INSN_INT3)
		goto err_unlock;
	err = -ENOSPC;
	s = slot_claim();
	if (!s)
		goto err_unlock;
	s->addr = a;
	s->len = 1;
	s->kind = POKE_BP;
	s->orig = cur[0];
	s->handler = handler;
	s->insn_ok = !x86insn_decode(cur, (size_t)got, a, &s->insn);
	slot_publish(s);

	/* o[0] -> cc: a single byte, atomic for instruction fetch. */
	err = mem_write(a, &int3, 1);
	if (err)
		goto err_retire;
	poke_sync_core();
	pthread_mutex_unlock(&poke_lock);
	return 0;

err_retire:
	slot_retire(s);
err_unlock:
	pthread_mutex_unlock(&poke_lock);
	return err;
}

/**
 * poke_bp_remove() - remove a breakpoint: cc -> o[0], wait for handlers
 * @addr:	its address
 *
 * Return: 0, -EINVAL, -EBADF, -ENOENT, -EILSEQ or an I/O -errno.
 */
int poke_bp_remove(void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	struct poke_slot *s;
	int err;

	if (!addr)
		return -EINVAL;
	pthread_mutex_lock(&poke_lock);
	err = -EBADF;
	if (!poke_inited)
		goto out;
	s = slot_overlap(a, 1);
	err = -ENOENT;
	if (!s || s->kind != POKE_BP || s->addr != a)
		goto out;
	/* cc -> o[0], then wait for handlers still running. */
	err = bp_remove_locked(s);
out:
	pthread_mutex_unlock(&poke_lock);
	return err;
}

/**
 * poke_stats_traps() - traps met on poke_text_bp() sites
 *
 * Return: the number emulated or re-executed since the process started.
 */
unsigned long poke_stats_traps(void)
{
	return atomic_load_explicit(&poke_traps, memory_order_relaxed);
}
