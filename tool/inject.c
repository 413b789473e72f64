// SPDX-License-Identifier: MIT
/*
 * inject.c - getting into a target (DESIGN.md 3).
 *
 * One thread, stopped at a safe point, is made to call a function of the
 * target and to come back exactly where it was, by itself: everything it
 * needs to come back is in its own memory before its registers are
 * changed, so the tool may die at any moment.
 *
 * Safe point (DESIGN.md 3.2). The stopped thread is unwound from its
 * registers (tool/unwind.c: DWARF CFI of every frame). It is safe when no
 * frame is in the C library or the dynamic loader, except
 *   (a) a run of innermost frames that are plain blocking system call
 *       wrappers (wrapper_names[]: they hold no lock; joins, condition
 *       waits and lock waits are not among them), and
 *   (b) the thread's start frames: __libc_start_call_main,
 *       __libc_start_main (the main thread, below _start), or start_thread
 *       and clone3/clone (other threads). A stripped C library has no
 *       symbol for the local ones; there an unnamed frame is accepted only
 *       in its exact place in those patterns, as the outermost frames of a
 *       complete unwind.
 * Every frame must have CFI and the unwind must end cleanly (the start
 * frames' CFI says "no return address"); anything else is not safe. The
 * thread must also have 64 KiB of stack below the frame we put there.
 * A thread that is not safe is let go at once and the next one is tried;
 * all of them are tried again every 10 ms until the timeout.
 *
 * The call (DESIGN.md 3.3). With S the thread's rsp when stopped:
 *
 *     S - 128 .. S        red zone, untouched
 *     X = S - 8 - 256     saved rip (the slot the stub's "ret $256" pops)
 *     B .. B + F          saved state (B 64-aligned, B + F <= S - 384)
 *     new_sp = B - 8      return address = stub; rsp at the callee's entry
 *                         (new_sp = 8 mod 16, as right after a call)
 *
 *   B + 0x00 .. 0x70      rax rbx rcx rdx rsi rdi rbp r8 .. r15
 *   B + 0x78              rflags
 *   B + 0x80              X (the stub's last rsp)
 *   B + 0x88              1: make a system call before restoring (below)
 *   B + 0x90 .. 0xb0      its rax, rdi, rsi, rdx, r10
 *   B + 0xc0              its struct timespec
 *   B + 0xe0              the address of the thread's errno (0: unknown)
 *   B + 0xe8              its errno before the call (32 bits)
 *   B + 0x100             XSAVE area (PTRACE_GETREGSET NT_X86_XSTATE:
 *                         x87, SSE, AVX and every other user state
 *                         component), or, on a machine without XSAVE,
 *                         the 512-byte FXSAVE area (PTRACE_GETFPREGS)
 *   after it              the string argument, NUL-terminated
 *
 * The thread's registers become rip = fn, rdi/rsi/rdx = the arguments,
 * rsp = new_sp, rax = 0, orig_rax = -1 (the kernel restarts nothing), DF
 * clear, and a default x87/SSE state. When fn returns, it returns into
 * the restore stub with rsp = B. The stub is pure code: rsp-relative
 * loads only, no absolute address, so one copy serves every hijack. It is
 * written once into the slack after the C library's last executable
 * segment (zero bytes in the mapped r-x page), through /proc/PID/mem, and
 * recognised afterwards by its whole byte sequence: the 16-byte signature
 * "uklp-restore-v2\0", then
 *
 *   +0x10 entry after an XSAVE area:
 *     b8 ff ff ff ff              mov $0xffffffff,%eax
 *     ba ff ff ff ff              mov $0xffffffff,%edx
 *     48 0f ae ac 24 00 01 00 00  xrstor64 0x100(%rsp)
 *     eb 09                       jmp errno
 *   +0x25 entry after an FXSAVE area:
 *     48 0f ae 8c 24 00 01 00 00  fxrstor64 0x100(%rsp)
 *   +0x2e errno: the call's errno is not the thread's (dlopen() leaves
 *   ENOENT behind; a thread caught between a failed call and its errno
 *   check, redis' epoll loop once, would see it):
 *     48 8b 8c 24 e0 00 00 00     mov 0xe0(%rsp),%rcx
 *     48 85 c9                    test %rcx,%rcx
 *     74 09                       je sc
 *     8b 94 24 e8 00 00 00        mov 0xe8(%rsp),%edx
 *     89 11                       mov %edx,(%rcx)
 *   sc:
 *     48 83 bc 24 88 00 00 00 00  cmpq $0x0,0x88(%rsp)
 *     74 2e                       je common
 *     48 8b 84 24 90 00 00 00     mov 0x90(%rsp),%rax
 *     48 8b bc 24 98 00 00 00     mov 0x98(%rsp),%rdi
 *     48 8b b4 24 a0 00 00 00     mov 0xa0(%rsp),%rsi
 *     48 8b 94 24 a8 00 00 00     mov 0xa8(%rsp),%rdx
 *     4c 8b 94 24 b0 00 00 00     mov 0xb0(%rsp),%r10
 *     0f 05                       syscall
 *     48 89 04 24                 mov %rax,(%rsp)      result = saved rax
 *   common:
 *     ff 74 24 78                 push 0x78(%rsp)      saved rflags
 *     9d                          popfq
 *     48 8b 04 24                 mov (%rsp),%rax
 *     48 8b 5c 24 08              mov 0x8(%rsp),%rbx
 *     48 8b 4c 24 10              mov 0x10(%rsp),%rcx
 *     48 8b 54 24 18              mov 0x18(%rsp),%rdx
 *     48 8b 74 24 20              mov 0x20(%rsp),%rsi
 *     48 8b 7c 24 28              mov 0x28(%rsp),%rdi
 *     48 8b 6c 24 30              mov 0x30(%rsp),%rbp
 *     4c 8b 44 24 38              mov 0x38(%rsp),%r8
 *     4c 8b 4c 24 40              mov 0x40(%rsp),%r9
 *     4c 8b 54 24 48              mov 0x48(%rsp),%r10
 *     4c 8b 5c 24 50              mov 0x50(%rsp),%r11
 *     4c 8b 64 24 58              mov 0x58(%rsp),%r12
 *     4c 8b 6c 24 60              mov 0x60(%rsp),%r13
 *     4c 8b 74 24 68              mov 0x68(%rsp),%r14
 *     4c 8b 7c 24 70              mov 0x70(%rsp),%r15
 *     48 8b a4 24 80 00 00 00     mov 0x80(%rsp),%rsp  rsp = X
 *     c2 00 01                    ret $0x100           rip = [X],
 *                                                  rsp = X + 8 + 256 = S
 *
 * A signal during the stub pushes its frame below rsp - 128: below B while
 * rsp = B, below X while rsp = X; the state still needed is never
 * overwritten. The stub has no CFI: a thread inside a hijacked call or
 * the stub never unwinds cleanly, so it is never hijacked twice.
 *
 * System call restart. A thread stopped in an interrupted system call with
 * rax = -ERESTARTSYS/-ERESTARTNOINTR/-ERESTARTNOHAND resumes at rip - 2
 * with rax = orig_rax: the syscall instruction runs again, as the kernel
 * would have restarted it. -ERESTART_RESTARTBLOCK (relative nanosleep and
 * clock_nanosleep, poll with a timeout) needs the kernel's restart block,
 * which any signal handler that runs during the call resets (the runtime's
 * own breakpoint at the loader's r_brk does, on every dlopen): restarting
 * with __NR_restart_syscall would then fail with EINTR. So a relative
 * sleep on a system-wide clock becomes, in the stub, an absolute
 * clock_nanosleep(TIMER_ABSTIME) to the same deadline (from the remaining
 * time the kernel wrote to *rem; without rem, from the full request: it
 * sleeps at most that much longer, never shorter), whose result is what
 * the thread's own syscall returns; other cases resume at rip - 2 with rax
 * = __NR_restart_syscall. -EINTR and results are kept as they are.
 *
 * Kill safety: the stub and the frame are written below the thread's
 * stack pointer and in unused code bytes before any register changes; a
 * tool that dies before pt_setregs() leaves the thread as it was (the
 * kernel detaches it and restarts its syscall itself), one that dies after
 * leaves a thread that makes the call and comes back by itself.
 *
 * Known limits: the hijacked thread's dlerror() state reflects our
 * dlopen; a thread blocked in a cancellable wrapper keeps its asynchronous
 * cancellation enabled during the call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "inject.h"
#include "prio.h"
#include "ptrace.h"
#include "step.h"
#include "switch.h"
#include "uklp_abi.h"
#include "unwind.h"

#define INJECT_RETRY_MS	  10
#define INJECT_MAX_FRAMES 256
#define INJECT_STACK_MIN  (64 * 1024)
#define INJECT_XSTATE_MAX (32 * 1024)
#define INJECT_STR_MAX	  4096

/* Frame layout relative to B (see the top of the file). */
#define FR_GPRS	   0x00
#define FR_RFLAGS  0x78
#define FR_X	   0x80
#define FR_SC	   0x88 /* flag, then rax rdi rsi rdx r10 */
#define FR_SC_TS   0xc0
#define FR_ERRNO   0xe0 /* the thread's &errno, then its value */
#define FR_FP	   0x100
#define FR_REDZONE 128
#define FR_RET_POP 256 /* the "ret $256" immediate */

#define ERESTARTSYS_	       512
#define ERESTARTNOINTR_	       513
#define ERESTARTNOHAND_	       514
#define ERESTART_RESTARTBLOCK_ 516

#define RFLAGS_DF 0x400ul

#define RTLD_NOW_     0x2
#define RTLD_GLOBAL_  0x100
#define RTLD_DLOPEN__ 0x80000000u /* glibc's __RTLD_DLOPEN */

/* The restore stub (see the top of the file for what it does). */
/* clang-format off */
static const unsigned char stub_blob[] = {
	/* signature "uklp-restore-v2\0", never executed */
	'u', 'k', 'l', 'p', '-', 'r', 'e', 's', 't', 'o', 'r', 'e', '-', 'v', '2', 0,
	0xb8, 0xff, 0xff, 0xff, 0xff,			/* +0x10 mov $0xffffffff,%eax */
	0xba, 0xff, 0xff, 0xff, 0xff,			/* +0x15 mov $0xffffffff,%edx */
	0x48, 0x0f, 0xae, 0xac, 0x24, 0x00, 0x01, 0x00, 0x00, /* +0x1a xrstor64 0x100(%rsp) */
	0xeb, 0x09,					/* +0x23 jmp errno */
	0x48, 0x0f, 0xae, 0x8c, 0x24, 0x00, 0x01, 0x00, 0x00, /* +0x25 fxrstor64 0x100(%rsp) */
	0x48, 0x8b, 0x8c, 0x24, 0xe0, 0x00, 0x00, 0x00,	/* +0x2e errno: mov 0xe0(%rsp),%rcx */
	0x48, 0x85, 0xc9,				/* +0x36 test %rcx,%rcx */
	0x74, 0x09,					/* +0x39 je sc */
	0x8b, 0x94, 0x24, 0xe8, 0x00, 0x00, 0x00,	/* +0x3b mov 0xe8(%rsp),%edx */
	0x89, 0x11,					/* +0x42 mov %edx,(%rcx) */
	0x48, 0x83, 0xbc, 0x24, 0x88, 0x00, 0x00, 0x00, 0x00, /* +0x44 sc: cmpq $0x0,0x88(%rsp) */
	0x74, 0x2e,					/* +0x4d je common */
	0x48, 0x8b, 0x84, 0x24, 0x90, 0x00, 0x00, 0x00,	/* +0x4f mov 0x90(%rsp),%rax */
	0x48, 0x8b, 0xbc, 0x24, 0x98, 0x00, 0x00, 0x00,	/* +0x57 mov 0x98(%rsp),%rdi */
	0x48, 0x8b, 0xb4, 0x24, 0xa0, 0x00, 0x00, 0x00,	/* +0x5f mov 0xa0(%rsp),%rsi */
	0x48, 0x8b, 0x94, 0x24, 0xa8, 0x00, 0x00, 0x00,	/* +0x67 mov 0xa8(%rsp),%rdx */
	0x4c, 0x8b, 0x94, 0x24, 0xb0, 0x00, 0x00, 0x00,	/* +0x6f mov 0xb0(%rsp),%r10 */
	0x0f, 0x05,					/* +0x77 syscall */
	0x48, 0x89, 0x04, 0x24,				/* +0x79 mov %rax,(%rsp) */
	0xff, 0x74, 0x24, 0x78,				/* +0x7d common: push 0x78(%rsp) */
	0x9d,						/* +0x81 popfq */
	0x48, 0x8b, 0x04, 0x24,				/* +0x82 mov (%rsp),%rax */
	0x48, 0x8b, 0x5c, 0x24, 0x08,			/* +0x86 mov 0x8(%rsp),%rbx */
	0x48, 0x8b, 0x4c, 0x24, 0x10,			/* +0x8b mov 0x10(%rsp),%rcx */
	0x48, 0x8b, 0x54, 0x24, 0x18,			/* +0x90 mov 0x18(%rsp),%rdx */
	0x48, 0x8b, 0x74, 0x24, 0x20,			/* +0x95 mov 0x20(%rsp),%rsi */
	0x48, 0x8b, 0x7c, 0x24, 0x28,			/* +0x9a mov 0x28(%rsp),%rdi */
	0x48, 0x8b, 0x6c, 0x24, 0x30,			/* +0x9f mov 0x30(%rsp),%rbp */
	0x4c, 0x8b, 0x44, 0x24, 0x38,			/* +0xa4 mov 0x38(%rsp),%r8 */
	0x4c, 0x8b, 0x4c, 0x24, 0x40,			/* +0xa9 mov 0x40(%rsp),%r9 */
	0x4c, 0x8b, 0x54, 0x24, 0x48,			/* +0xae mov 0x48(%rsp),%r10 */
	0x4c, 0x8b, 0x5c, 0x24, 0x50,			/* +0xb3 mov 0x50(%rsp),%r11 */
	0x4c, 0x8b, 0x64, 0x24, 0x58,			/* +0xb8 mov 0x58(%rsp),%r12 */
	0x4c, 0x8b, 0x6c, 0x24, 0x60,			/* +0xbd mov 0x60(%rsp),%r13 */
	0x4c, 0x8b, 0x74, 0x24, 0x68,			/* +0xc2 mov 0x68(%rsp),%r14 */
	0x4c, 0x8b, 0x7c, 0x24, 0x70,			/* +0xc7 mov 0x70(%rsp),%r15 */
	0x48, 0x8b, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00,	/* +0xcc mov 0x80(%rsp),%rsp */
	0xc2, 0x00, 0x01,				/* +0xd4 ret $0x100 */
};
/* clang-format on */

#define STUB_XRSTOR_ENTRY  0x10
#define STUB_FXRSTOR_ENTRY 0x25
#define STUB_POPFQ	   0x81
#define STUB_RET	   0xd4
_Static_assert(sizeof(stub_blob) == 0xd7, "stub bytes as documented");
_Static_assert(FR_SC + 6 * 8 <= FR_SC_TS && FR_SC_TS + 16 <= FR_FP,
	       "frame head layout");

/*
 * Innermost frames allowed in the C library: plain blocking system call
 * wrappers (and the names of their aliases in .dynsym/.symtab). None of
 * them holds a lock of the C library while it blocks. Not here on
 * purpose: pthread_join, pthread_cond_*wait, pthread_mutex_lock, sem_wait,
 * the futex helpers (they hold or are about to take library or
 * application state), system(), fork/exec, anything of stdio or malloc.
 */
/* clang-format off */
static const char *const wrapper_names[] = {
	"read", "__read", "__libc_read", "write", "__write", "__libc_write",
	"readv", "writev", "pread", "pread64", "__pread64",
	"pwrite", "pwrite64", "__pwrite64",
	"nanosleep", "__nanosleep", "__libc_nanosleep",
	"clock_nanosleep", "__clock_nanosleep", "__GI___clock_nanosleep",
	"__clock_nanosleep_time64", "sleep", "usleep",
	"pause", "__pause", "__libc_pause",
	"poll", "__poll", "ppoll", "__ppoll", "select", "__select",
	"pselect", "__pselect", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"accept", "__accept", "__libc_accept", "accept4",
	"recv", "__recv", "__libc_recv", "recvfrom", "__recvfrom",
	"__libc_recvfrom", "recvmsg", "__recvmsg", "__libc_recvmsg", "recvmmsg",
	"send", "__send", "__libc_send", "sendto", "__sendto", "__libc_sendto",
	"sendmsg", "__sendmsg", "__libc_sendmsg",
	"connect", "__connect", "__libc_connect",
	"waitpid", "__waitpid", "__libc_waitpid", "wait", "__wait", "wait3",
	"wait4", "__wait4", "waitid", "__waitid",
	"sigsuspend", "__sigsuspend", "sigwaitinfo", "__sigwaitinfo",
	"sigtimedwait", "__sigtimedwait",
	"msgrcv", "__msgrcv", "msgsnd", "__msgsnd", "semop", "semtimedop",
	"fsync", "fdatasync", "flock", "syscall",
	/* glibc 2.39+: the cancellable syscall path is its own frames */
	"__syscall_cancel", "__syscall_cancel_arch", "__internal_syscall_cancel",
};
/* clang-format on */

/* Start frames of the main thread and of other threads. */
static const char *const start_main_names[] = {
    "__libc_start_main",
    "__libc_start_main_impl",
    "__libc_start_main_alias_2",
};
static const char *const start_call_main_names[] = {
    "__libc_start_call_main",
};
static const char *const start_thread_names[] = {
    "start_thread",
};
static const char *const start_clone_names[] = {
    "clone", "__clone", "clone3", "__clone3", "__clone_internal",
};

/* Base names of the C library and the dynamic loader. */
static const char *const libc_prefixes[] = {
    "libc.so",	"ld-linux", "ld64.so",	 "libpthread.so",
    "libdl.so", "ld-musl",  "libc.musl",
};

/* How often a wait for a call's answer helps the runtime's readers. */
#define CALL_HELP_MS 5

static char last_error[512];
/* The target's writable mappings, read before each search (stack_room()). */
static struct proc_range *rw;
static size_t nrw;
static uint64_t max_pause_ns;
/* The nice value to give back to the thread sent on the last call. */
static struct prio_saved call_prio;

static void set_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

/**
 * inject_max_pause_ns() - the longest time one thread was stopped during
 * the last inject_call()
 *
 * Return: nanoseconds.
 */
uint64_t inject_max_pause_ns(void)
{
	return max_pause_ns;
}

/**
 * inject_call_done() - the last call has answered (or will not be waited
 * for): give its thread its own nice value back
 */
void inject_call_done(void)
{
	prio_restore(&call_prio);
}

/**
 * inject_last_error() - why the last inject_call() found no thread, or
 * what failed last
 *
 * Return: a message ("thread 123: in malloc (libc.so.6)"), "" if none.
 */
const char *inject_last_error(void)
{
	return last_error;
}

static uint64_t now_ms(void)
{
	return pt_now_ns() / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int in_list(const char *name, const char *const *list, size_t n)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return 1;
	return 0;
}

#define IN(name, list) in_list(name, list, sizeof(list) / sizeof(list[0]))

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int is_libc_obj(const struct proc_obj *o)
{
	const char *b;

	if (!o)
		return 0;
	b = base_name(o->path);
	for (size_t i = 0; i < sizeof(libc_prefixes) / sizeof(libc_prefixes[0]);
	     i++)
		if (!strncmp(b, libc_prefixes[i], strlen(libc_prefixes[i])))
			return 1;
	return 0;
}

/* One unwound frame, as the safe point rule sees it. */
struct frame {
	uintptr_t ip;
	int libc;	  /* in the C library or the loader */
	const char *name; /* symbol, or NULL (points into an elfsym table) */
	const char *obj;  /* object base name, or NULL */
};

/* Unnamed libc frame, or one named in @list. */
static int start_frame(const struct frame *f, const char *const *list, size_t n)
{
	return f->libc && (!f->name || in_list(f->name, list, n));
}

#define START(f, list) start_frame(f, list, sizeof(list) / sizeof(list[0]))

/*
 * How many outermost frames are the thread's start frames (see the top
 * of the file); 0 when none are.
 */
static size_t start_tail(const struct frame *f, size_t n)
{
	if (n >= 2 && f[n - 2].libc && f[n - 2].name &&
	    IN(f[n - 2].name, start_main_names) && !f[n - 1].libc) {
		/* [__libc_start_call_main] __libc_start_main _start */
		if (n >= 3 && START(&f[n - 3], start_call_main_names))
			return 3;
		return 2;
	}
	if (n >= 2 && START(&f[n - 1], start_clone_names) &&
	    START(&f[n - 2], start_thread_names))
		return 2;
	if (n >= 1 && f[n - 1].libc && f[n - 1].name &&
	    IN(f[n - 1].name, start_clone_names))
		return 1;
	return 0;
}

static void describe_frame(const struct frame *f, char *buf, size_t len)
{
	if (f->name)
		snprintf(buf, len, "in %s (%s)", f->name,
			 f->obj ? f->obj : "?");
	else
		snprintf(buf, len, "at %#lx (%s)", (unsigned long)f->ip,
			 f->obj ? f->obj : "no object");
}

/*
 * Unwind the stopped thread and apply the safe point rule. Return 1 when
 * safe, 0 when not (with the reason in @why), or -errno.
 */
static int thread_is_safe(struct proc *p, const struct pt_thread *t, char *why,
			  size_t whylen)
{
	struct frame *fr;
	uintptr_t *ips;
	size_t n = 0, i0, tail;
	int err, safe = 0;
	char d[160];

	fr = calloc(INJECT_MAX_FRAMES, sizeof(*fr));
	ips = calloc(INJECT_MAX_FRAMES, sizeof(*ips));
	if (!fr || !ips) {
		safe = -ENOMEM;
		goto out;
	}
	/* Reliable (tool/unwind.c): every frame has CFI and the chain ends
	 * where the CFI says it does (_start, clone3). */
	err = unwind_remote_regs(p, &t->regs, ips, INJECT_MAX_FRAMES, &n);
	if (err && err != -EAGAIN && err != -ENOENT) {
		safe = err;
		goto out;
	}
	if (!n) /* not even the pc: describe that */
		ips[0] = t->regs.rip;
	for (size_t i = 0; i < (n ? n : 1); i++) {
		/* A return address points after the call: look up ip - 1. */
		uintptr_t look = i ? ips[i] - 1 : ips[i];
		struct proc_obj *o = proc_obj_at(p, look);
		struct frame *f = &fr[i];

		f->ip = ips[i];
		if (!o)
			continue;
		f->obj = base_name(o->path);
		f->libc = is_libc_obj(o);
		/* The rule needs only the C library's names (read before
		 * the stop); others only if already known: reading a
		 * symbol table here would make the thread wait for it. */
		if (!f->libc && o->elf_state != 1)
			continue;
		struct elfsym_file *ef = proc_obj_elf(o);
		struct elfsym_sym s;

		if (ef && !elfsym_find_addr(ef, look - o->bias, &s))
			f->name = s.name;
	}
	if (err) {
		describe_frame(&fr[n ? n - 1 : 0], d, sizeof(d));
		snprintf(why, whylen, "no reliable unwind (frame %zu %s)",
			 n ? n - 1 : 0, d);
		goto out;
	}

	/* (a) innermost syscall wrappers */
	for (i0 = 0; i0 < n && fr[i0].libc && IN(fr[i0].name, wrapper_names);
	     i0++)
		;
	/* (b) start frames */
	tail = start_tail(fr, n);
	if (tail > n - i0)
		tail = n - i0;
	for (size_t i = i0; i < n - tail; i++) {
		if (!fr[i].libc)
			continue;
		describe_frame(&fr[i], d, sizeof(d));
		snprintf(why, whylen, "%s", d);
		goto out;
	}
	if (!tail && n && fr[n - 1].libc) {
		snprintf(why, whylen,
			 "unwind did not reach the thread's start");
		goto out;
	}
	safe = 1;
out:
	free(ips);
	free(fr);
	return safe;
}

/*
 * Before the first stop that looks at a thread's stack in this tool: a
 * stop that only reads the registers (a few us), and an unwind from them
 * with the thread running again. The unwind's result is of no use (the
 * stack moves meanwhile), its side effect is: libunwind parses each
 * frame's CFI the first time it meets its IP and keeps the result, which
 * took 100-200 us of the first real stop (the same unwind again 30 us).
 */
static void peek(struct proc *p, pid_t tid)
{
	static pid_t peeked;
	uintptr_t ips[INJECT_MAX_FRAMES];
	struct user_regs_struct regs;
	struct pt_thread t;
	size_t n;

	if (peeked == p->pid || pt_stop(tid, &t))
		return;
	regs = t.regs;
	pt_resume(&t);
	peeked = p->pid;
	unwind_remote_regs(p, &regs, ips, INJECT_MAX_FRAMES, &n);
}

/* Find or write the restore stub in @o's executable slack. */
static int find_stub_in(struct proc *p, struct proc_obj *o, uintptr_t *stub)
{
	unsigned char *slack;
	uintptr_t start, at;
	size_t len, last_nz = 0;
	int err;

	err = proc_obj_exec_slack(o, &start, &len);
	if (err)
		return err;
	if (len < sizeof(stub_blob) + 16)
		return -ENOSPC;
	slack = malloc(len);
	if (!slack)
		return -ENOMEM;
	err = proc_read(p, start, slack, len);
	if (err)
		goto out;
	step("stub: read the executable slack");
	/* Already there (written by an earlier run)? */
	for (size_t off = (16 - (start & 15)) & 15;
	     off + sizeof(stub_blob) <= len; off += 16)
		if (!memcmp(slack + off, stub_blob, sizeof(stub_blob))) {
			*stub = start + off;
			err = 0;
			step("stub: found in place");
			goto out;
		}
	/* Else after the last non-zero byte, on zeros only. */
	for (size_t i = 0; i < len; i++)
		if (slack[i])
			last_nz = i + 1;
	at = (start + last_nz + 15) & ~(uintptr_t)15;
	if (at + sizeof(stub_blob) > start + len) {
		err = -ENOSPC;
		goto out;
	}
	err = proc_write(p, at, stub_blob, sizeof(stub_blob));
	if (err)
		goto out;
	step("stub: written");
	err = proc_read(p, at, slack, sizeof(stub_blob));
	if (!err && memcmp(slack, stub_blob, sizeof(stub_blob)))
		err = -EIO;
	if (err)
		goto out;
	step("stub: verified");
	*stub = at;
out:
	free(slack);
	return err;
}

/* The stub in the C library, else in the loader. */
static int find_stub(struct proc *p, uintptr_t *stub)
{
	static const char *const where[] = {"libc.so", "ld-linux", "ld-musl"};
	int err = -ENOENT;

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		struct proc_obj *o = proc_find_obj(p, where[i]);

		if (!o)
			continue;
		err = find_stub_in(p, o, stub);
		if (!err)
			return 0;
	}
	set_error("no room for the restore stub in the C library (%s)",
		  strerror(-err));
	return err;
}

/* How the thread goes on after the call (see the top of the file). */
struct resume {
	struct user_regs_struct regs; /* restored by the stub */
	int sc;			      /* make a system call first */
	uint64_t sc_regs[5];	      /* its rax rdi rsi rdx r10 (rdx: &ts) */
	struct timespec ts;	      /* its timespec */
	uint64_t errno_addr;	      /* the thread's errno, 0: unknown */
	uint32_t errno_val;	      /* its value before the call */
};

/* errno's offset from the thread pointer in the target (the same for
 * every thread: the C library's TLS is static), for errno_pid. */
static pid_t errno_pid;
static int64_t errno_off;
static int errno_known;

/*
 * Learn errno's TLS offset from the target's __errno_location(), whose
 * code is, in every glibc for x86-64:
 *   48 8b 05 rel32               mov errno@gottpoff(%rip),%rax
 *   64 48 03 04 25 00 00 00 00   add %fs:0x0,%rax
 *   c3                           ret
 * Read before any stop; another shape leaves it unknown (the call then
 * may change the thread's errno, as before).
 */
static void errno_learn(struct proc *p)
{
	static const unsigned char tail[] = {0x64, 0x48, 0x03, 0x04, 0x25,
					     0x00, 0x00, 0x00, 0x00, 0xc3};
	unsigned char code[17];
	uintptr_t fn;
	int32_t rel;
	int64_t off;

	if (errno_pid == p->pid)
		return;
	errno_pid = p->pid;
	errno_known = 0;
	if (proc_sym(p, "libc.so", "__errno_location", &fn) ||
	    proc_read(p, fn, code, sizeof(code)) || code[0] != 0x48 ||
	    code[1] != 0x8b || code[2] != 0x05 ||
	    memcmp(code + 7, tail, sizeof(tail)))
		return;
	memcpy(&rel, code + 3, sizeof(rel));
	if (proc_read(p, fn + 7 + (uintptr_t)(intptr_t)rel, &off, sizeof(off)))
		return;
	errno_off = off;
	errno_known = 1;
}

/*
 * A relative sleep interrupted with -ERESTART_RESTARTBLOCK as an absolute
 * clock_nanosleep to the same deadline. 0, or -ENOENT when it is not such
 * a sleep (or its clock is not one the tool can read).
 */
static int sleep_as_absolute(struct proc *p, const struct pt_thread *t,
			     struct resume *r)
{
	const struct user_regs_struct *g = &t->regs;
	uint64_t nr = g->orig_rax, mono, ns;
	uintptr_t req, rem;
	struct timespec left, now;
	unsigned char code[7];
	clockid_t clk;

	/*
	 * Stopped before (by us, by a debugger): the kernel restarted the
	 * sleep as restart_syscall, with the registers of the original call.
	 * Which one it was, the wrapper says: "mov $nr,%eax; syscall" (b8
	 * imm32 0f 05), as glibc's are written.
	 */
	if (nr == SYS_restart_syscall) {
		uint32_t imm;

		if (proc_read(p, g->rip - sizeof(code), code, sizeof(code)) ||
		    code[0] != 0xb8 || code[5] != 0x0f || code[6] != 0x05)
			return -ENOENT;
		memcpy(&imm, code + 1, 4);
		nr = imm;
	}
	if (nr == SYS_nanosleep) {
		clk = CLOCK_MONOTONIC;
		req = g->rdi;
		rem = g->rsi;
	} else if (nr == SYS_clock_nanosleep && !(g->rsi & TIMER_ABSTIME)) {
		clk = (clockid_t)g->rdi;
		req = g->rdx;
		rem = g->r10;
		/* A relative sleep ignores clock changes: the kernel runs
		 * CLOCK_REALTIME ones on CLOCK_MONOTONIC too. */
		if (clk == CLOCK_REALTIME)
			clk = CLOCK_MONOTONIC;
		if (clk != CLOCK_MONOTONIC && clk != CLOCK_BOOTTIME &&
		    clk != CLOCK_TAI)
			return -ENOENT;
	} else {
		return -ENOENT;
	}
	/* The kernel wrote the time left to *rem when it stopped the
	 * thread; without rem, the whole request (an upper bound). */
	if (proc_read(p, rem ? rem : req, &left, sizeof(left)) ||
	    left.tv_sec < 0 || left.tv_nsec < 0 || left.tv_nsec >= 1000000000)
		return -ENOENT;
	if (clock_gettime(clk, &now))
		return -ENOENT;
	mono = pt_now_ns();
	/* deadline = (when it stopped, on @clk) + left */
	ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	ns -= mono > t->stop_ns ? mono - t->stop_ns : 0;
	ns += (uint64_t)left.tv_sec * 1000000000ull + (uint64_t)left.tv_nsec;
	r->ts.tv_sec = (time_t)(ns / 1000000000ull);
	r->ts.tv_nsec = (long)(ns % 1000000000ull);
	r->sc = 1;
	r->sc_regs[0] = SYS_clock_nanosleep;
	r->sc_regs[1] = (uint64_t)clk;
	r->sc_regs[2] = TIMER_ABSTIME;
	r->sc_regs[3] = 0; /* &ts, once the frame's place is known */
	r->sc_regs[4] = 0; /* rem: NULL */
	return 0;
}

/*
 * The state the thread resumes with after the call: its registers, with
 * an interrupted system call turned into its restart. 0, or 1 when the
 * thread cannot be hijacked here.
 */
static int resume_state(struct proc *p, const struct pt_thread *t,
			struct resume *r, char *why, size_t whylen)
{
	long rax = (long)t->regs.rax;
	unsigned char insn[2];

	memset(r, 0, sizeof(*r));
	r->regs = t->regs;
	if ((long)t->regs.orig_rax < 0)
		return 0;
	if (rax != -ERESTARTSYS_ && rax != -ERESTARTNOINTR_ &&
	    rax != -ERESTARTNOHAND_ && rax != -ERESTART_RESTARTBLOCK_)
		return 0;
	/* Restart = run the syscall instruction again. */
	if (proc_read(p, t->regs.rip - 2, insn, 2) || insn[0] != 0x0f ||
	    insn[1] != 0x05) {
		snprintf(why, whylen,
			 "interrupted system call not entered "
			 "with the syscall instruction");
		return 1;
	}
	if (rax == -ERESTART_RESTARTBLOCK_ && !sleep_as_absolute(p, t, r))
		return 0; /* the stub sleeps, then returns to rip */
	r->regs.rip -= 2;
	r->regs.rax = rax == -ERESTART_RESTARTBLOCK_ ? SYS_restart_syscall
						     : t->regs.orig_rax;
	return 0;
}

/* Fill the FR_FP-byte head of the frame (at target address @b_addr). */
static void frame_head(unsigned char *b, uintptr_t b_addr,
		       const struct resume *r, uint64_t x)
{
	const struct user_regs_struct *s = &r->regs;
	const uint64_t g[] = {s->rax, s->rbx, s->rcx, s->rdx, s->rsi,
			      s->rdi, s->rbp, s->r8,  s->r9,  s->r10,
			      s->r11, s->r12, s->r13, s->r14, s->r15};

	memset(b, 0, FR_FP);
	memcpy(b + FR_GPRS, g, sizeof(g));
	memcpy(b + FR_RFLAGS, &s->eflags, 8);
	memcpy(b + FR_X, &x, 8);
	memcpy(b + FR_ERRNO, &r->errno_addr, 8);
	memcpy(b + FR_ERRNO + 8, &r->errno_val, 4);
	if (r->sc) {
		uint64_t one = 1, sc[5];

		memcpy(sc, r->sc_regs, sizeof(sc));
		sc[3] = b_addr + FR_SC_TS;
		memcpy(b + FR_SC, &one, 8);
		memcpy(b + FR_SC + 8, sc, sizeof(sc));
		memcpy(b + FR_SC_TS, &r->ts, sizeof(r->ts));
	}
}

/* Is the process stopped by job control (state T in /proc/PID/stat)? */
static int process_stopped(pid_t pid)
{
	char fn[64], buf[512], *rp;
	ssize_t n;
	int fd;

	snprintf(fn, sizeof(fn), "/proc/%d/stat", (int)pid);
	fd = open(fn, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses */
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] == 'T';
}

/*
 * Is there room for the call below @new_sp on the stack at @sp? The frame
 * must be mapped already (the kernel does not grow a stack for
 * /proc/PID/mem writes), and INJECT_STACK_MIN below it too, except on the
 * main thread's [stack], which grows. 0, -ENOSPC or -errno.
 */
static int stack_room(struct proc *p, uintptr_t sp, uintptr_t new_sp)
{
	static unsigned char buf[INJECT_STACK_MIN];
	struct proc_map *m;
	int err;

	/* From the mappings read before the stop (reading /proc/PID/maps
	 * during it took ~80 us): a stack only grows since. */
	for (size_t i = 0; i < nrw; i++) {
		if (sp < rw[i].start || sp >= rw[i].end)
			continue;
		if (new_sp >= rw[i].start + INJECT_STACK_MIN ||
		    (rw[i].main_stack && new_sp >= rw[i].start))
			return 0;
		break; /* perhaps mapped since: look again */
	}
	/* Fast: all of it readable means mapped, no guard page in it. */
	if (!proc_read(p, new_sp - INJECT_STACK_MIN, buf, sizeof(buf)))
		return 0;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	err = proc_mapping_at(p->pid, sp, m);
	if (!err && (new_sp < m->start || strcmp(m->path, "[stack]")))
		err = -ENOSPC;
	free(m);
	return err;
}

/*
 * Send the stopped, safe thread @t on the call. The thread is detached
 * on return, whatever happened.
 */
static int hijack(struct proc *p, struct pt_thread *t, uintptr_t stub,
		  uintptr_t fn, const uint64_t args[3], const char *strarg,
		  int stridx)
{
	static const unsigned char fx_default[32] = {
	    0x7f, 0x03,	       /* fcw 0x037f */
	    [24] = 0x80, 0x1f, /* mxcsr 0x1f80 */
	};
	struct user_regs_struct h;
	struct resume s;
	unsigned char *fp = NULL, *frame = NULL, *check = NULL;
	unsigned char fx[512];
	size_t fplen, flen, slen = strarg ? strlen(strarg) + 1 : 0;
	uintptr_t S = t->regs.rsp, X, B, new_sp, ret;
	char why[160];
	int err, use_x;

	if (resume_state(p, t, &s, why, sizeof(why))) {
		set_error("thread %d: %s", (int)t->tid, why);
		err = -EAGAIN;
		goto out;
	}
	fp = aligned_alloc(64, INJECT_XSTATE_MAX);
	if (!fp) {
		err = -ENOMEM;
		goto out;
	}
	err = pt_getxstate(t, fp, INJECT_XSTATE_MAX, &fplen);
	use_x = !err;
	if (err == -ENODEV) {
		err = pt_getfpregs(t, fp);
		fplen = 512;
	}
	if (err)
		goto out;
	step("hijack: read the FP/vector state");

	/* The frame: registers, FP state, string (see the top). */
	flen =
	    FR_FP + ((fplen + 63) & ~(size_t)63) + ((slen + 15) & ~(size_t)15);
	X = S - 8 - FR_RET_POP;
	B = (S - FR_REDZONE - FR_RET_POP - flen) & ~(uintptr_t)63;
	new_sp = B - 8;
	err = stack_room(p, S, new_sp);
	if (err == -ENOSPC) {
		set_error("thread %d: less than %d KiB of stack left",
			  (int)t->tid, INJECT_STACK_MIN / 1024);
		err = -EAGAIN;
	}
	if (err)
		goto out;
	frame = calloc(1, 8 + flen);
	check = malloc(8 + flen);
	if (!frame || !check) {
		err = -ENOMEM;
		goto out;
	}
	ret = stub + (use_x ? STUB_XRSTOR_ENTRY : STUB_FXRSTOR_ENTRY);
	memcpy(frame, &ret, 8);
	/* The stub puts the thread's errno back (see the top). */
	if (errno_known && errno_pid == p->pid &&
	    !proc_read(p, (uintptr_t)(t->regs.fs_base + (uint64_t)errno_off),
		       &s.errno_val, sizeof(s.errno_val)))
		s.errno_addr = t->regs.fs_base + (uint64_t)errno_off;
	frame_head(frame + 8, B, &s, X);
	memcpy(frame + 8 + FR_FP, fp, fplen);
	if (slen)
		memcpy(frame + 8 + flen - ((slen + 15) & ~(size_t)15), strarg,
		       slen);

	err = proc_write(p, new_sp, frame, 8 + flen);
	if (err)
		goto out;
	step("hijack: wrote the saved state below the stack pointer");
	err = proc_write(p, X, &s.regs.rip, 8);
	if (err)
		goto out;
	step("hijack: wrote the return slot");
	err = proc_read(p, new_sp, check, 8 + flen);
	if (!err && memcmp(check, frame, 8 + flen))
		err = -EIO;
	if (!err) {
		uint64_t rip;

		err = proc_read(p, X, &rip, 8);
		if (!err && rip != s.regs.rip)
			err = -EIO;
	}
	if (err)
		goto out;
	step("hijack: verified the saved state");

	/* From here on the thread comes back by itself. */
	h = t->regs;
	h.rip = fn;
	h.rdi = args[0];
	h.rsi = args[1];
	h.rdx = args[2];
	if (slen) {
		uint64_t sa = new_sp + 8 + flen - ((slen + 15) & ~(size_t)15);

		if (stridx == 0)
			h.rdi = sa;
		else if (stridx == 2)
			h.rdx = sa;
		else
			h.rsi = sa;
	}
	h.rsp = new_sp;
	h.rax = 0;
	h.orig_rax = (unsigned long)-1;
	h.eflags &= ~RFLAGS_DF;
	err = pt_setregs(t, &h);
	if (err)
		goto out;
	step("hijack: set the registers (the call is on)");
	/* A clean x87/SSE state for the callee; the stub restores the
	 * thread's own. Failing here only means the callee sees the
	 * thread's state. */
	memset(fx, 0, sizeof(fx));
	memcpy(fx, fx_default, sizeof(fx_default));
	if (!pt_setfpregs(t, fx))
		step("hijack: set a default FP state");
	err = 0;
	/* The call competes for a CPU too: it keeps its boost until it
	 * has answered (inject_call_done()). */
	t->keep_prio = 1;
out:
	step("hijack: detaching");
	pt_resume(t);
	if (t->keep_prio) {
		call_prio = t->prio;
		t->keep_prio = 0;
	}
	step("hijack: detached");
	free(fp);
	free(frame);
	free(check);
	return err;
}

/**
 * inject_stub_regs() - for a thread stopped inside the restore stub, the
 * registers it will have when it leaves the stub
 * @p:		the process view
 * @regs:	the thread's registers (as pt_stop() read them)
 * @out:	filled on success
 *
 * A thread whose interrupted sleep the stub finishes (see the top of the
 * file) may sit in the stub for as long as that sleep; its call chain is
 * the one it had when it was hijacked, and it is unwound from these
 * registers (unwind_remote_regs()). rax is the value saved before the
 * sleep, not its result.
 *
 * Return: 0, or -ENOENT when @regs->rip is not in a restore stub.
 */
int inject_stub_regs(struct proc *p, const struct user_regs_struct *regs,
		     struct user_regs_struct *out)
{
	struct proc_obj *o = proc_obj_at(p, regs->rip);
	unsigned char code[sizeof(stub_blob)];
	uint64_t head[FR_X / 8 + 1], rip;
	uintptr_t start, stub = 0, b, off;
	size_t len;

	/* The stub lives in the slack after an object's code. */
	if (!o || proc_obj_exec_slack(o, &start, &len) || regs->rip < start ||
	    regs->rip >= start + len)
		return -ENOENT;
	for (uintptr_t c = (start + 15) & ~(uintptr_t)15; c <= regs->rip;
	     c += 16) {
		if (regs->rip - c >= sizeof(stub_blob))
			continue;
		if (!proc_read(p, c, code, sizeof(code)) &&
		    !memcmp(code, stub_blob, sizeof(code))) {
			stub = c;
			break;
		}
	}
	off = regs->rip - stub;
	if (!stub || off < STUB_XRSTOR_ENTRY)
		return -ENOENT;
	*out = *regs;
	if (off == STUB_RET) { /* rsp = X: only rip and rsp are left */
		if (proc_read(p, regs->rsp, &rip, 8))
			return -ENOENT;
		out->rip = rip;
		out->rsp = regs->rsp + 8 + FR_RET_POP;
		return 0;
	}
	/* rsp = B, but at the popfq, where the rflags are pushed */
	b = off == STUB_POPFQ ? regs->rsp + 8 : regs->rsp;
	if (proc_read(p, b, head, sizeof(head)) ||
	    proc_read(p, head[FR_X / 8], &rip, 8))
		return -ENOENT;
	out->rax = head[0];
	out->rbx = head[1];
	out->rcx = head[2];
	out->rdx = head[3];
	out->rsi = head[4];
	out->rdi = head[5];
	out->rbp = head[6];
	out->r8 = head[7];
	out->r9 = head[8];
	out->r10 = head[9];
	out->r11 = head[10];
	out->r12 = head[11];
	out->r13 = head[12];
	out->r14 = head[13];
	out->r15 = head[14];
	out->eflags = head[FR_RFLAGS / 8];
	out->rip = rip;
	out->rsp = head[FR_X / 8] + 8 + FR_RET_POP;
	return 0;
}

/**
 * inject_call_on() - inject_call() with a choice of thread and argument
 * @p:		the process view
 * @only_tid:	0, or the one thread to use
 * @fn:		target address of the function
 * @args:	three integer arguments
 * @strarg:	if not NULL, a string copied into the target (below the
 *		chosen thread's red zone)
 * @stridx:	which argument (0, 1 or 2) the string's address replaces
 * @timeout_ms:	how long to look for a thread at a safe point
 *
 * Return: as inject_call(); inject_last_error() says why no thread was
 * safe.
 */
int inject_call_on(struct proc *p, pid_t only_tid, uintptr_t fn,
		   const uint64_t args[3], const char *strarg, int stridx,
		   int timeout_ms)
{
	uint64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	uintptr_t stub;
	int err, tried_err = -EAGAIN;

	last_error[0] = '\0';
	max_pause_ns = 0;
	inject_call_done(); /* the previous call's, if nobody did */
	if (p->pid == getpid())
		return -EINVAL;
	if (strarg && strlen(strarg) >= INJECT_STR_MAX)
		return -ENAMETOOLONG;
	if (stridx < 0 || stridx > 2)
		return -EINVAL;
	if (process_stopped(p->pid)) {
		set_error("process %d is stopped (job control): nothing was "
			  "changed; continue it (SIGCONT) first",
			  (int)p->pid);
		return -EAGAIN;
	}
	err = find_stub(p, &stub);
	if (err)
		goto out;
	/* Read symbol and unwind tables now, not while a thread is stopped. */
	for (size_t i = 0; i < p->nobjs; i++)
		if (is_libc_obj(&p->objs[i]))
			proc_obj_elf(&p->objs[i]);
	unwind_prepare(p);
	errno_learn(p);
	free(rw);
	if (proc_rw_ranges(p->pid, &rw, &nrw) < 0) {
		rw = NULL;
		nrw = 0;
	}

	for (;;) {
		pid_t *tids = NULL;
		size_t n = 0;
		int all_perm = 1, any = 0;

		err = proc_tids(p->pid, &tids, &n);
		if (err)
			goto out;
		step("search: listed the threads");
		for (size_t i = 0; i < n; i++) {
			struct pt_thread t;
			char why[256];
			int safe;

			if (only_tid && tids[i] != only_tid)
				continue;
			any = 1;
			peek(p, tids[i]);
			step("search: seizing a thread");
			err = pt_stop(tids[i], &t);
			if (err == -ESRCH)
				continue;
			if (err) {
				tried_err = err;
				set_error("thread %d: %s", (int)tids[i],
					  strerror(-err));
				continue;
			}
			all_perm = 0;
			step("search: thread stopped");
			if (t.group_stop) {
				/* Stopped by job control meanwhile: a call
				 * would wait for SIGCONT; change nothing. */
				pt_resume(&t);
				set_error(
				    "process %d is stopped (job control): "
				    "nothing was changed; continue it "
				    "(SIGCONT) first",
				    (int)p->pid);
				free(tids);
				err = -EAGAIN;
				goto out;
			}
			why[0] = '\0';
			safe = thread_is_safe(p, &t, why, sizeof(why));
			step("search: thread unwound");
			if (safe == 1) {
				err = hijack(p, &t, stub, fn, args, strarg,
					     stridx);
				if (pt_paused_ns(&t) > max_pause_ns)
					max_pause_ns = pt_paused_ns(&t);
				if (err != -EAGAIN) {
					free(tids);
					goto out;
				}
				continue;
			}
			pt_resume(&t);
			if (pt_paused_ns(&t) > max_pause_ns)
				max_pause_ns = pt_paused_ns(&t);
			step("search: thread not at a safe point, let go");
			if (safe < 0) {
				err = safe;
				free(tids);
				goto out;
			}
			set_error("thread %d: %s", (int)t.tid, why);
		}
		free(tids);
		if (only_tid && !any) {
			err = -ESRCH;
			goto out;
		}
		/* Every thread refused to be traced: no point waiting. */
		if (all_perm && tried_err != -EAGAIN) {
			err = tried_err;
			goto out;
		}
		if (now_ms() >= deadline) {
			err = -EAGAIN;
			goto out;
		}
		sleep_us(INJECT_RETRY_MS * 1000);
		step("search: trying again");
		err = proc_refresh(p);
		if (err)
			goto out;
	}
out:
	return err;
}

/**
 * inject_call() - make one thread of the target call fn(a0, a1, a2)
 * @p:		the process view
 * @fn:		target address of the function
 * @args:	three integer arguments
 * @strarg:	if not NULL, a string copied into the target (on the chosen
 *		thread's stack, below its red zone) whose address replaces
 *		args[1]
 * @timeout_ms:	how long to look for a thread at a safe point
 *
 * The call runs on its own once started; the caller learns its outcome
 * from target memory (see uklp_status). Only one thread is ever stopped,
 * for a few microseconds.
 *
 * Return: 0 when a thread was sent on the call, -EAGAIN (no thread at a
 * safe point in time), -ESRCH, -EPERM, or -errno.
 */
int inject_call(struct proc *p, uintptr_t fn, const uint64_t args[3],
		const char *strarg, int timeout_ms)
{
	return inject_call_on(p, 0, fn, args, strarg, 1, timeout_ms);
}

/*
 * Read uklp_status: 0 ready, -ENOENT no runtime mapped, -EINPROGRESS
 * mapped but not initialized, -EPROTO wrong version, or -errno.
 */
static int read_status(struct proc *p, struct uklp_status *st, uintptr_t *addr)
{
	uintptr_t a;
	int err;

	if (!proc_find_obj(p, "libuklp.so"))
		return -ENOENT;
	err = proc_sym(p, "libuklp.so", UKLP_ABI_STATUS_SYMBOL, &a);
	if (err)
		return err == -ENOENT ? -EPROTO : err;
	err = proc_read(p, a, st, sizeof(*st));
	/* The loader maps the data segment after the first one. */
	if (err == -EFAULT)
		return -EINPROGRESS;
	if (err)
		return err;
	if (addr)
		*addr = a;
	if (__atomic_load_n(&st->magic, __ATOMIC_ACQUIRE) !=
		UKLP_ABI_STATUS_MAGIC ||
	    !st->ready)
		return st->magic && st->magic != UKLP_ABI_STATUS_MAGIC
			   ? -EPROTO
			   : -EINPROGRESS;
	if (st->version != UKLP_ABI_STATUS_VERSION)
		return -EPROTO;
	return 0;
}

/* dlopen of the target: libc (glibc 2.34+), else libdl, else glibc's own. */
static int find_dlopen(struct proc *p, uintptr_t *fn, uint64_t *flags)
{
	*flags = RTLD_NOW_ | RTLD_GLOBAL_;
	if (!proc_sym(p, "libc.so", "dlopen", fn))
		return 0;
	if (!proc_sym(p, "libdl.so", "dlopen", fn))
		return 0;
	if (!proc_sym(p, "libc.so", "__libc_dlopen_mode", fn)) {
		*flags |= RTLD_DLOPEN__;
		return 0;
	}
	return -ENOENT;
}

/**
 * inject_runtime() - load libuklp.so into the target if it is not there
 * @p:		the process view (refreshed on success)
 * @libpath:	absolute path of libuklp.so
 * @timeout_ms:	how long to wait for the runtime to be ready
 *
 * Return: 0 (loaded now or before), or -errno with a message printed.
 */
int inject_runtime(struct proc *p, const char *libpath, int timeout_ms)
{
	uint64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct uklp_status *st;
	uint64_t args[3] = {0, 0, 0};
	uintptr_t fn;
	long us = 100;
	int err, mapped = 0;

	st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	err = read_status(p, st, NULL);
	step("runtime: read the status");
	if (!err)
		goto out;
	if (err == -EPROTO) {
		fprintf(stderr,
			"uklp: process %d has a libuklp.so of another "
			"protocol version (tool speaks %d)\n",
			(int)p->pid, UKLP_ABI_STATUS_VERSION);
		goto out;
	}
	if (err == -ENOENT) {
		err = find_dlopen(p, &fn, &args[1]);
		if (err) {
			fprintf(stderr,
				"uklp: process %d: no dlopen in its C "
				"library (not a glibc program?)\n",
				(int)p->pid);
			goto out;
		}
		step("runtime: calling dlopen in the target");
		err = inject_call_on(p, 0, fn, args, libpath, 0, timeout_ms);
		if (err) {
			if (err == -EAGAIN)
				fprintf(stderr,
					"uklp: process %d: no thread at a safe "
					"point within %d ms (last: %s)\n",
					(int)p->pid, timeout_ms,
					last_error[0] ? last_error : "-");
			else if (last_error[0])
				fprintf(stderr, "uklp: process %d: %s\n",
					(int)p->pid, last_error);
			goto out;
		}
		step("runtime: dlopen is on its way");
	} else if (err != -EINPROGRESS) {
		goto out;
	}
	/* Wait for the library to be mapped and its constructor to finish. */
	for (;;) {
		err = proc_refresh(p);
		if (err)
			goto out;
		err = read_status(p, st, NULL);
		step("runtime: polled the status");
		/*
		 * While the loader maps the library segment by segment the
		 * maps can show part of it (a wrong bias, a symbol not yet
		 * found): a wrong magic then is "not yet", until the end.
		 */
		if (err == -EPROTO && now_ms() < deadline)
			err = -EINPROGRESS;
		if (err != -ENOENT && err != -EINPROGRESS)
			break;
		if (err == -EINPROGRESS)
			mapped = 1;
		if (now_ms() >= deadline) {
			if (!mapped)
				fprintf(
				    stderr,
				    "uklp: process %d: %s is not mapped "
				    "after %d ms: dlopen failed in the target "
				    "(wrong path, or not loadable there)\n",
				    (int)p->pid, libpath, timeout_ms);
			else
				fprintf(
				    stderr,
				    "uklp: process %d: %s is mapped but not "
				    "ready after %d ms: its constructor did "
				    "not finish\n",
				    (int)p->pid, libpath, timeout_ms);
			err = -ETIMEDOUT;
			goto out;
		}
		sleep_us(us);
		if (us < 10000)
			us *= 2;
	}
	if (err == -EPROTO)
		fprintf(stderr,
			"uklp: process %d: the runtime's status has the "
			"wrong magic or version (tool speaks %d)\n",
			(int)p->pid, UKLP_ABI_STATUS_VERSION);
	if (!err)
		step("runtime: ready");
out:
	inject_call_done();
	free(st);
	return err;
}

static int random_token(uint64_t *tok)
{
	do {
		if (getrandom(tok, sizeof(*tok), 0) != sizeof(*tok))
			return -errno;
	} while (!*tok);
	return 0;
}

/**
 * inject_tool_call() - uklp_tool_call(op, arg, token) in the target, waited
 * @p:		the process view (the runtime must be loaded)
 * @op:		enum uklp_abi_op
 * @arg:	string argument or NULL
 * @rc:		out: the runtime's return code
 * @msg:	out: its message
 * @msglen:	size of @msg
 * @timeout_ms:	how long to wait for the answer
 *
 * Return: 0 when an answer came (see @rc), -ETIMEDOUT, or -errno.
 */
int inject_tool_call(struct proc *p, int op, const char *arg, long *rc,
		     char *msg, size_t msglen, int timeout_ms)
{
	uint64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct {
		uint64_t token;
		int64_t rc;
		char msg[UKLP_ABI_MSG_MAX];
	} ans;
	struct uklp_status *st;
	uint64_t args[3], token;
	uintptr_t fn, sta;
	uint64_t help_ms = now_ms() + CALL_HELP_MS;
	long us = 100;
	int err;

	_Static_assert(offsetof(struct uklp_status, call_rc) ==
			       offsetof(struct uklp_status, call_token) + 8 &&
			   offsetof(struct uklp_status, call_msg) ==
			       offsetof(struct uklp_status, call_rc) + 8,
		       "call_token, call_rc, call_msg are consecutive");
	st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	err = read_status(p, st, &sta);
	if (err == -EINPROGRESS)
		err = -EAGAIN;
	if (err)
		goto out;
	err = proc_sym(p, "libuklp.so", UKLP_ABI_CALL_SYMBOL, &fn);
	if (err)
		goto out;
	step("call: found the runtime");
	err = random_token(&token);
	if (err)
		goto out;
	args[0] = (uint64_t)op;
	args[1] = 0;
	args[2] = token;
	err = inject_call(p, fn, args, arg, timeout_ms);
	if (err)
		goto out;
	step("call: the call is on its way");
	for (;;) {
		uint64_t seen;

		err =
		    proc_read(p, sta + offsetof(struct uklp_status, call_token),
			      &seen, sizeof(seen));
		if (err)
			goto out;
		if (seen == token)
			break;
		step("call: polled for the answer");
		if (now_ms() >= deadline) {
			err = -ETIMEDOUT;
			goto out;
		}
		/* The load's grace periods wait for preempted readers: 0.1
		 * to 0.6 s of a 1000-function load behind 500 busy threads. */
		if (now_ms() >= help_ms) {
			switch_help_readers(p);
			help_ms = now_ms() + CALL_HELP_MS;
		}
		sleep_us(us);
		if (us < 2000)
			us *= 2;
	}
	err = proc_read(p, sta + offsetof(struct uklp_status, call_token), &ans,
			sizeof(ans));
	if (err)
		goto out;
	/* Another caller answered in between: its rc, not ours. */
	if (ans.token != token) {
		err = -EBUSY;
		goto out;
	}
	*rc = (long)ans.rc;
	if (msg && msglen) {
		ans.msg[sizeof(ans.msg) - 1] = '\0';
		snprintf(msg, msglen, "%s", ans.msg);
	}
	step("call: read the answer");
out:
	inject_call_done();
	free(st);
	return err;
}
