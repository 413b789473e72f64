// SPDX-License-Identifier: MIT
/*
 * test_poke - x86insn and poke (runtime/arch/x86_64) with real threads.
 *
 * Build and run:
 *	cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
 *	   -D_GNU_SOURCE -Icommon -Iruntime/arch/x86_64 -Iinclude \
 *	   tests/unit/test_poke.c runtime/arch/x86_64/poke.c \
 *	   common/x86insn.c -lpthread -o /tmp/test_poke && /tmp/test_poke
 * Exit status 0: pass.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "poke.h"
#include "x86insn.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,         \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ != b_) {                                                \
			fprintf(stderr, "%s:%d: FAIL: %s == %lld, not %lld\n", \
				__FILE__, __LINE__, #a, a_, b_);               \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define NTHREADS 4

/* No inlining, cloning, return-value propagation or merging. */
#ifdef __clang__
#define NOIPA __attribute__((noinline))
#else
#define NOIPA __attribute__((noipa))
#endif

/* --- code under test ------------------------------------------------- */

/* 5 (resp. 6) single-byte NOPs at the entry; made one long NOP at start. */
__attribute__((patchable_function_entry(5, 0))) NOIPA int site5(void)
{
	return 1;
}

NOIPA int alt5(void)
{
	return 2;
}

__attribute__((patchable_function_entry(6, 0))) NOIPA int site6(void)
{
	return 1;
}

NOIPA int alt6(void)
{
	return 2;
}

NOIPA int bp_target(int x)
{
	return x + 1;
}

NOIPA int bp_alt(int x)
{
	return x + 1000;
}

/*
 * test_hook: counts its calls and returns, preserving every register but
 * the flags (it is called at a function entry, before the prologue).
 * site_ret: returns 1, or 2 when the nop at +5 is made a ret.
 */
static unsigned long hook_calls __attribute__((used));
void test_hook(void);
int site_ret(void);
__asm__(".pushsection .text\n"
	".p2align 4\n"
	".globl test_hook\n"
	".hidden test_hook\n"
	".type test_hook, @function\n"
	"test_hook:\n"
	"	lock incq hook_calls(%rip)\n"
	"	ret\n"
	".size test_hook, .-test_hook\n"
	".p2align 4\n"
	".globl site_ret\n"
	".hidden site_ret\n"
	".type site_ret, @function\n"
	"site_ret:\n"
	"	mov $2, %eax\n" /* b8 02 00 00 00 */
	"	nop\n"		/* 90: the site */
	"	mov $1, %eax\n"
	"	ret\n"
	".size site_ret, .-site_ret\n"
	".popsection\n");

static int (*volatile alt6_ptr)(void) = alt6;
static void (*volatile hook_ptr)(void) = test_hook;

static const uint8_t nop1[1] = {0x90};
static const uint8_t ret1[1] = {0xc3};
static const uint8_t single5[5] = {0x90, 0x90, 0x90, 0x90, 0x90};
static const uint8_t single6[6] = {0x90, 0x90, 0x90, 0x90, 0x90, 0x90};
static const uint8_t nop5[5] = {0x0f, 0x1f, 0x44, 0x00, 0x00};
static const uint8_t jmp0[5] = {0xe9, 0x00, 0x00, 0x00, 0x00};
static const uint8_t nop6[6] = {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00};

/* --- x86insn ----------------------------------------------------------- */

struct decode_case {
	uint8_t bytes[16];
	size_t n;
	int err;
	enum x86insn_kind kind;
	unsigned int len;
	uint64_t target; /* decoded at 0x1000; 0: none */
};

static void test_decode(void)
{
	static const struct decode_case cases[] = {
	    {{0x90}, 1, 0, X86_NOP, 1, 0},
	    {{0x66, 0x90}, 2, 0, X86_NOP, 2, 0},
	    {{0x0f, 0x1f, 0x00}, 3, 0, X86_NOP, 3, 0},
	    {{0x0f, 0x1f, 0x40, 0x00}, 4, 0, X86_NOP, 4, 0},
	    {{0x0f, 0x1f, 0x44, 0x00, 0x00}, 5, 0, X86_NOP, 5, 0},
	    {{0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00}, 6, 0, X86_NOP, 6, 0},
	    {{0x0f, 0x1f, 0x80, 0, 0, 0, 0}, 7, 0, X86_NOP, 7, 0},
	    {{0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0}, 8, 0, X86_NOP, 8, 0},
	    {{0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0},
	     10,
	     0,
	     X86_NOP,
	     10,
	     0},
	    {{0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0},
	     11,
	     0,
	     X86_NOP,
	     11,
	     0},
	    {{0x0f, 0x1f, 0x05, 1, 2, 3, 4}, 7, 0, X86_NOP, 7, 0},
	    {{0x0f, 0x1f, 0x04, 0x25, 0, 0, 0, 0}, 8, 0, X86_NOP, 8, 0},
	    {{0x0f, 0x1f, 0xc0}, 3, 0, X86_NOP, 3, 0},
	    {{0x48, 0x0f, 0x1f, 0x00}, 4, 0, X86_NOP, 4, 0},
	    {{0xf3, 0x0f, 0x1e, 0xfa}, 4, 0, X86_ENDBR, 4, 0},
	    {{0xcc}, 1, 0, X86_INT3, 1, 0},
	    {{0xc3}, 1, 0, X86_RET, 1, 0},
	    {{0xeb, 0x10}, 2, 0, X86_JMP, 2, 0x1012},
	    {{0xeb, 0xfe}, 2, 0, X86_JMP, 2, 0x1000},
	    {{0xe9, 0x00, 0x01, 0, 0}, 5, 0, X86_JMP, 5, 0x1105},
	    {{0xe9, 0xfb, 0xff, 0xff, 0xff}, 5, 0, X86_JMP, 5, 0x1000},
	    {{0xe8, 0x10, 0, 0, 0}, 5, 0, X86_CALL, 5, 0x1015},
	    {{0xff, 0x25, 0x10, 0, 0, 0}, 6, 0, X86_JMP_IND_RIP, 6, 0x1016},
	    {{0xff, 0x15, 0xf0, 0xff, 0xff, 0xff},
	     6,
	     0,
	     X86_CALL_IND_RIP,
	     6,
	     0xff6},
	    /* Not ours, or cut short. */
	    {{0xf3, 0x90}, 2, -ENOENT, 0, 0, 0}, /* pause */
	    {{0x41, 0x90}, 2, -ENOENT, 0, 0, 0}, /* xchg r8d */
	    {{0x2e, 0x90}, 2, -ENOENT, 0, 0, 0},
	    {{0x0f, 0x1f, 0x48, 0x00}, 4, -ENOENT, 0, 0, 0}, /* /1 */
	    {{0x48, 0x89, 0xe5}, 3, -ENOENT, 0, 0, 0},
	    {{0x3e, 0xff, 0x25, 0, 0, 0, 0}, 7, -ENOENT, 0, 0, 0},
	    {{0xff, 0xe0}, 2, -ENOENT, 0, 0, 0}, /* jmp *%rax */
	    {{0xe9, 0, 0, 0}, 4, -ENOENT, 0, 0, 0},
	    {{0x0f, 0x1f, 0x44, 0x00}, 4, -ENOENT, 0, 0, 0},
	    {{0xf3, 0x0f, 0x1e}, 3, -ENOENT, 0, 0, 0},
	    {{0x90}, 0, -ENOENT, 0, 0, 0},
	    {{0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	      0x66, 0x66, 0x0f, 0x1f, 0x00},
	     16,
	     -ENOENT,
	     0,
	     0,
	     0}, /* 16 bytes: too long */
	};
	uint8_t buf[X86INSN_MAX_LEN], out[5];
	struct x86insn in;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct decode_case *c = &cases[i];
		int err = x86insn_decode(c->bytes, c->n, 0x1000, &in);

		if (err != c->err ||
		    (!err && (in.kind != c->kind || in.len != c->len ||
			      in.target != c->target))) {
			fprintf(stderr,
				"decode case %zu: err %d kind %d len %u\n", i,
				err, in.kind, in.len);
			exit(1);
		}
	}
	for (len = 1; len <= X86INSN_MAX_LEN; len++) {
		CHECK_EQ(x86insn_encode_nop(len, buf), 0);
		CHECK_EQ(x86insn_decode(buf, len, 0, &in), 0);
		CHECK_EQ(in.kind, X86_NOP);
		CHECK_EQ(in.len, len);
	}
	CHECK_EQ(x86insn_encode_nop(0, buf), -EINVAL);
	CHECK_EQ(x86insn_encode_nop(16, buf), -EINVAL);

	CHECK_EQ(x86insn_encode_jmp(0x1000, 0x2000, out), 0);
	CHECK_EQ(x86insn_decode(out, 5, 0x1000, &in), 0);
	CHECK(in.kind == X86_JMP && in.target == 0x2000);
	CHECK_EQ(x86insn_encode_call(0x2000, 0x1000, out), 0);
	CHECK_EQ(x86insn_decode(out, 5, 0x2000, &in), 0);
	CHECK(in.kind == X86_CALL && in.target == 0x1000);
	CHECK_EQ(x86insn_encode_jmp(0x1000, 0x1000 + 5 + 0x7fffffffULL, out),
		 0);
	CHECK_EQ(x86insn_encode_jmp(0x1000, 0x1000 + 5 + 0x80000000ULL, out),
		 -ERANGE);
	CHECK_EQ(x86insn_encode_call(0x100000000ULL, 0x10, out), -ERANGE);
	CHECK_EQ(x86insn_encode_jmp_rel8(0x1000, 0x1002 + 127, out), 0);
	CHECK_EQ(x86insn_decode(out, 2, 0x1000, &in), 0);
	CHECK(in.kind == X86_JMP && in.len == 2 && in.target == 0x1081);
	CHECK_EQ(x86insn_encode_jmp_rel8(0x1000, 0x1002 - 128, out), 0);
	CHECK_EQ(x86insn_encode_jmp_rel8(0x1000, 0x1002 + 128, out), -ERANGE);
	CHECK_EQ(x86insn_encode_jmp_rel8(0x1000, 0x1002 - 129, out), -ERANGE);
	printf("x86insn: %zu decode cases, nop 1..15, encoders: ok\n", i);
}

/* --- SIGTRAP chaining ------------------------------------------------- */

static volatile sig_atomic_t prev_trap_hits;
static volatile sig_atomic_t prev_trap_code;

static void prev_trap(int sig, siginfo_t *si, void *uc)
{
	prev_trap_hits++;
	prev_trap_code = si->si_code;
}

static void test_chain(void)
{
	struct sigaction sa;

	prev_trap_hits = 0;
	__asm__ volatile("int3");
	CHECK_EQ(prev_trap_hits, 1);
	CHECK_EQ(prev_trap_code, SI_KERNEL);
	/* The two-byte form, cd 03 (as would assemble "int $3" as cc). */
	__asm__ volatile(".byte 0xcd, 0x03");
	CHECK_EQ(prev_trap_hits, 2);
	raise(SIGTRAP);
	CHECK_EQ(prev_trap_hits, 3);
	CHECK_EQ(prev_trap_code, SI_TKILL);
	/* Ours is installed, the test's is remembered. */
	CHECK_EQ(sigaction(SIGTRAP, NULL, &sa), 0);
	CHECK(sa.sa_sigaction != prev_trap);
	printf("chain: foreign int3, int $3 and raise() reached the previous "
	       "handler\n");
}

/* In a child: with SIG_DFL (or SIG_IGN) a foreign int3 must be fatal. */
static void test_chain_default(void (*disp)(int), const char *name)
{
	struct rlimit rl = {0, 0};
	int status;
	pid_t pid;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &rl);
		poke_fini();
		signal(SIGTRAP, disp);
		if (poke_init())
			_exit(2);
		__asm__ volatile("int3");
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status));
	CHECK_EQ(WTERMSIG(status), SIGTRAP);
	printf("chain: foreign int3 with %s killed the child by SIGTRAP\n",
	       name);
}

/* --- error paths ------------------------------------------------------ */

static int is_nop(const uint8_t *p, size_t len)
{
	struct x86insn in;

	return !x86insn_decode(p, len, 0, &in) && in.kind == X86_NOP &&
	       in.len == len;
}

static void test_errors(void)
{
	uint8_t *s5 = (uint8_t *)site5;
	static const uint8_t undecodable[5] = {0x48, 0x89, 0xe5, 0x90, 0x90};
	static const uint8_t int3x[1] = {0xcc};

	uint8_t orig5[5], orig6[6];

	/* GCC pads with single NOPs, clang with one long NOP. */
	memcpy(orig5, s5, 5);
	memcpy(orig6, (uint8_t *)site6, 6);
	CHECK(!memcmp(orig5, single5, 5) || is_nop(orig5, 5));
	CHECK(!memcmp(orig6, single6, 6) || is_nop(orig6, 6));
	CHECK_EQ(poke_text(s5, jmp0, single5, 5), -EILSEQ);
	CHECK_EQ(memcmp(s5, orig5, 5), 0);
	/* Five single NOPs are five instructions: refused. */
	CHECK_EQ(poke_text_bp(s5, single5, nop5, 5), -EINVAL);
	CHECK_EQ(memcmp(s5, orig5, 5), 0);
	CHECK_EQ(poke_text(NULL, orig5, nop5, 5), -EINVAL);
	CHECK_EQ(poke_text(s5, orig5, nop5, 0), -EINVAL);

	/* Make the site one 5-byte NOP before any thread runs it. */
	CHECK_EQ(poke_text(s5, orig5, nop5, 5), 0);
	CHECK_EQ(memcmp(s5, nop5, 5), 0);
	CHECK_EQ(poke_text((uint8_t *)site6, orig6, nop6, 6), 0);
	CHECK_EQ(memcmp((uint8_t *)site6, nop6, 6), 0);
	CHECK_EQ(site5(), 1);
	CHECK_EQ(site6(), 1);

	CHECK_EQ(poke_text_bp(s5, nop5, undecodable, 5), -EINVAL);
	CHECK_EQ(memcmp(s5, nop5, 5), 0);
	CHECK_EQ(poke_text_bp(s5, nop5, single5, 5), -EINVAL); /* length */
	CHECK_EQ(poke_text_bp(s5, nop5, int3x, 1), -EINVAL);
	CHECK_EQ(poke_text_bp(s5, nop5, nop5, 0), -EINVAL);
	CHECK_EQ(poke_text_bp(s5, nop6, nop5, 5), -EILSEQ); /* old */
	CHECK_EQ(memcmp(s5, nop5, 5), 0);
	CHECK_EQ(poke_stats_traps(), 0);
	printf("errors: -EILSEQ, -EINVAL, bytes unchanged\n");
}

/* --- the stress test -------------------------------------------------- */

static int (*volatile stress_fn)(void);
static atomic_int stress_stop;
static atomic_ulong stress_ones, stress_twos, stress_bad;

static void *stress_thread(void *arg)
{
	unsigned long ones = 0, twos = 0, bad = 0;
	int r;

	while (!atomic_load_explicit(&stress_stop, memory_order_relaxed)) {
		r = stress_fn();
		if (r == 1)
			ones++;
		else if (r == 2)
			twos++;
		else
			bad++;
	}
	atomic_fetch_add(&stress_ones, ones);
	atomic_fetch_add(&stress_twos, twos);
	atomic_fetch_add(&stress_bad, bad);
	return NULL;
}

/*
 * NTHREADS threads call @fn in a loop while the main thread switches the
 * instruction at @site from @a to @b and back, @iters times.
 */
static void stress(const char *name, int (*fn)(void), void *site,
		   const uint8_t *a, const uint8_t *b, size_t len, int iters)
{
	unsigned long traps0 = poke_stats_traps();
	unsigned long hooks0 = __atomic_load_n(&hook_calls, __ATOMIC_RELAXED);
	pthread_t th[NTHREADS];
	int i;

	stress_fn = fn;
	atomic_store(&stress_stop, 0);
	atomic_store(&stress_ones, 0);
	atomic_store(&stress_twos, 0);
	atomic_store(&stress_bad, 0);
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, stress_thread, NULL), 0);
	for (i = 0; i < iters; i++) {
		CHECK_EQ(poke_text_bp(site, a, b, len), 0);
		CHECK_EQ(poke_text_bp(site, b, a, len), 0);
	}
	atomic_store(&stress_stop, 1);
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	CHECK_EQ(memcmp(site, a, len), 0);
	printf("stress %-24s %5d x2 pokes: %lu calls (%lu returned 2), "
	       "%lu hook calls, %lu traps emulated\n",
	       name, iters,
	       atomic_load(&stress_ones) + atomic_load(&stress_twos),
	       atomic_load(&stress_twos),
	       __atomic_load_n(&hook_calls, __ATOMIC_RELAXED) - hooks0,
	       poke_stats_traps() - traps0);
	CHECK_EQ(atomic_load(&stress_bad), 0);
}

static void make_rip(uint8_t op, const void *site, const void *slot,
		     uint8_t out[6])
{
	int64_t d = (int64_t)((uintptr_t)slot - ((uintptr_t)site + 6));
	int32_t d32 = (int32_t)d;

	CHECK(d == d32);
	out[0] = 0xff;
	out[1] = op;
	memcpy(out + 2, &d32, 4);
}

static void test_stress(void)
{
	uint8_t jmp[5], call[5], jmpind[6], callind[6], jmppad[6], callpad[6];
	void *s5 = (void *)site5, *s6 = (void *)site6;

	CHECK_EQ(x86insn_encode_jmp((uintptr_t)s5, (uintptr_t)alt5, jmp), 0);
	CHECK_EQ(x86insn_encode_call((uintptr_t)s5, (uintptr_t)test_hook, call),
		 0);
	make_rip(0x25, s6, (const void *)&alt6_ptr, jmpind);
	make_rip(0x15, s6, (const void *)&hook_ptr, callind);
	/* A jmp padded to the site's 6 bytes is one instruction; a call not. */
	CHECK_EQ(x86insn_encode_jmp((uintptr_t)s6, (uintptr_t)alt6, jmppad), 0);
	jmppad[5] = 0x90;
	CHECK_EQ(
	    x86insn_encode_call((uintptr_t)s6, (uintptr_t)test_hook, callpad),
	    0);
	callpad[5] = 0x90;
	CHECK_EQ(poke_text_bp(s6, nop6, callpad, 6), -EINVAL);
	CHECK_EQ(memcmp(s6, nop6, 6), 0);

	stress("nop5 <-> jmp rel32", site5, s5, nop5, jmp, 5, 2000);
	stress("nop5 <-> call rel32", site5, s5, nop5, call, 5, 1000);
	stress("nop6 <-> jmp *(%rip)", site6, s6, nop6, jmpind, 6, 1000);
	stress("nop6 <-> call *(%rip)", site6, s6, nop6, callind, 6, 1000);
	stress("nop6 <-> jmp rel32; nop", site6, s6, nop6, jmppad, 6, 1000);
	stress("nop1 <-> ret", site_ret, (uint8_t *)site_ret + 5, nop1, ret1, 1,
	       1000);
	printf("stress: total traps emulated %lu (0 is possible, timing)\n",
	       poke_stats_traps());
}

/* --- prologue sites: moving parked threads ---------------------------- */

/*
 * Two functions as a compiler without site flags makes them, each with its
 * relocated copy (as site_relocate() builds it: the displaced instructions,
 * then a jmp back) and a replacement. mvs_fn's first instruction is 5
 * bytes, mvp_fn's is push %rbp (1 byte: a thread parked after it has the
 * PC a thread meeting the transient int3 at the entry has).
 */
__asm__(".text\n"
	"mvs_fn:\n"
	"	movl $1, %eax\n" /* 5 bytes: the displaced instruction */
	"	ret\n"
	"mvs_copy:\n"
	"	movl $1, %eax\n"
	"	jmp mvs_fn + 5\n"
	"mvs_new:\n"
	"	movl $2, %eax\n"
	"	ret\n"
	"mvp_fn:\n"
	"	push %rbp\n"	  /* +0 */
	"	mov %rsp, %rbp\n" /* +1 */
	"	movl $1, %eax\n"  /* +4: displaced: 9 bytes */
	"	pop %rbp\n"
	"	ret\n"
	"mvp_copy:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	movl $1, %eax\n"
	"	jmp mvp_fn + 9\n"
	"mvp_new:\n"
	"	movl $2, %eax\n"
	"	ret\n");
int mvs_fn(void), mvs_copy(void), mvs_new(void);
int mvp_fn(void), mvp_copy(void), mvp_new(void);

struct mv_site {
	uintptr_t fn, copy, news;
	size_t displaced;
	const uint8_t *bounds; /* instruction offsets inside, 0-terminated */
};

static const uint8_t mvs_bounds[] = {0};
static const uint8_t mvp_bounds[] = {1, 4, 0};

/* poke_move_fn: a boundary of the displaced instructions to the copy's. */
static uintptr_t mv_move(void *arg, uintptr_t pc)
{
	const struct mv_site *m = arg;

	for (const uint8_t *b = m->bounds; *b; b++)
		if (pc == m->fn + *b)
			return m->copy + *b;
	return 0;
}

/*
 * NTHREADS threads call the function in a loop while the main thread
 * arms its site (poke_text_bp_move(), moving parked threads) and disarms
 * it, @iters times. The threads meet the transient int3 at every turn,
 * also while a move request is pending for them: were the request and the
 * trap one signal, a thread would go on after the int3 without the first
 * instruction (mvp: push %rbp skipped, the ret pops the wrong address) or
 * in the middle of it (mvs), and crash or return garbage.
 */
static void mv_stress(const char *name, struct mv_site *m, int iters)
{
	unsigned long traps0 = poke_stats_traps(),
		      moved0 = poke_moved_threads();
	uint8_t orig[5], jmp[5];
	pthread_t th[NTHREADS];
	int i, timeouts = 0, err;

	memcpy(orig, (void *)m->fn, 5);
	CHECK_EQ(x86insn_encode_jmp(m->fn, m->news, jmp), 0);
	stress_fn = (int (*)(void))m->fn;
	atomic_store(&stress_stop, 0);
	atomic_store(&stress_ones, 0);
	atomic_store(&stress_twos, 0);
	atomic_store(&stress_bad, 0);
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, stress_thread, NULL), 0);
	for (i = 0; i < iters; i++) {
		err = poke_text_bp_move((void *)m->fn, orig, jmp, 5, m->news,
					m->fn + m->displaced, mv_move, m);
		if (err == -ETIMEDOUT) {
			/* Busy machine: the original was put back. */
			timeouts++;
			CHECK_EQ(memcmp((void *)m->fn, orig, 5), 0);
			continue;
		}
		CHECK_EQ(err, 0);
		CHECK_EQ(poke_text_bp_move((void *)m->fn, jmp, orig, 5, m->copy,
					   0, NULL, NULL),
			 0);
	}
	atomic_store(&stress_stop, 1);
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	CHECK_EQ(memcmp((void *)m->fn, orig, 5), 0);
	printf("move %-7s %4d arms: %lu calls (%lu returned 2), %lu traps "
	       "emulated, %lu threads moved, %d timeouts\n",
	       name, iters,
	       atomic_load(&stress_ones) + atomic_load(&stress_twos),
	       atomic_load(&stress_twos), poke_stats_traps() - traps0,
	       poke_moved_threads() - moved0, timeouts);
	CHECK_EQ(atomic_load(&stress_bad), 0);
	CHECK(timeouts < iters / 10);
}

static void test_move(void)
{
	struct mv_site mvs = {(uintptr_t)mvs_fn, (uintptr_t)mvs_copy,
			      (uintptr_t)mvs_new, 5, mvs_bounds};
	struct mv_site mvp = {(uintptr_t)mvp_fn, (uintptr_t)mvp_copy,
			      (uintptr_t)mvp_new, 9, mvp_bounds};

	CHECK_EQ(mvs_fn(), 1);
	CHECK_EQ(mvp_fn(), 1);
	CHECK_EQ(mvs_copy(), 1);
	CHECK_EQ(mvp_copy(), 1);
	mv_stress("mov $1", &mvs, 1000);
	mv_stress("push", &mvp, 1000);
}

/* --- permanent breakpoints -------------------------------------------- */

static atomic_ulong bp_hits;
static int (*volatile bp_fn)(int) = bp_target;

static void bp_redirect(void *addr, ucontext_t *uc)
{
	atomic_fetch_add_explicit(&bp_hits, 1, memory_order_relaxed);
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)bp_alt;
}

static void bp_count(void *addr, ucontext_t *uc)
{
	atomic_fetch_add_explicit(&bp_hits, 1, memory_order_relaxed);
}

#define BP_CALLS 20000

static void *bp_thread(void *arg)
{
	long bad = 0;
	int i;

	for (i = 0; i < BP_CALLS; i++)
		if (bp_fn(i) != i + 1000)
			bad++;
	return (void *)bad;
}

static void test_bp(void)
{
	int (*volatile fn5)(void) = site5;
	pthread_t th[2];
	void *ret;
	int i;

	CHECK_EQ(bp_fn(1), 2);
	CHECK_EQ(poke_bp_install((void *)bp_target, bp_redirect), 0);
	CHECK_EQ(poke_bp_install((void *)bp_target, bp_redirect), -EEXIST);
	CHECK_EQ(*(volatile uint8_t *)bp_target, 0xcc);
	/* A breakpoint is not overwritten by pokes. */
	CHECK_EQ(poke_text((void *)bp_target, "\xcc", "\x90", 1), -EBUSY);
	for (i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, bp_thread, NULL), 0);
	for (i = 0; i < 2; i++) {
		CHECK_EQ(pthread_join(th[i], &ret), 0);
		CHECK_EQ((long)ret, 0);
	}
	CHECK_EQ(atomic_load(&bp_hits), 2 * BP_CALLS);
	CHECK_EQ(poke_bp_remove((void *)bp_target), 0);
	CHECK_EQ(poke_bp_remove((void *)bp_target), -ENOENT);
	CHECK(*(volatile uint8_t *)bp_target != 0xcc);
	CHECK_EQ(bp_fn(1), 2);
	CHECK_EQ(bp_fn(41), 42);

	/* A handler that leaves the PC: the original (nop5) is emulated. */
	atomic_store(&bp_hits, 0);
	CHECK_EQ(poke_bp_install((void *)site5, bp_count), 0);
	CHECK_EQ(fn5(), 1);
	CHECK_EQ(fn5(), 1);
	CHECK_EQ(atomic_load(&bp_hits), 2);
	CHECK_EQ(poke_bp_remove((void *)site5), 0);
	CHECK_EQ(memcmp((void *)site5, nop5, 5), 0);
	printf("bp: %d redirected calls from 2 threads, removed, original "
	       "back; emulated original after a handler\n",
	       2 * BP_CALLS);
}

/* --- fork ------------------------------------------------------------- */

static void test_fork(void)
{
	int (*volatile fn)(void) = site5;
	uint8_t jmp[5];
	int status;
	pid_t pid;

	CHECK_EQ(x86insn_encode_jmp((uintptr_t)site5, (uintptr_t)alt5, jmp), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (poke_text_bp((void *)site5, nop5, jmp, 5))
			_exit(2);
		_exit(fn() == 2 ? 0 : 3);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(memcmp((void *)site5, nop5, 5), 0);
	CHECK_EQ(fn(), 1);
	printf("fork: the child poked its own copy, the parent's is intact\n");
}

/* --- the text stays r-xp ---------------------------------------------- */

static void check_rx(const void *p, const char *what)
{
	uintptr_t a = (uintptr_t)p;
	unsigned long lo, hi;
	char line[512], perms[8];
	int found = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	CHECK(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    lo <= a && a < hi) {
			found = 1;
			if (strcmp(perms, "r-xp")) {
				fprintf(stderr, "FAIL: %s at %p: %s", what, p,
					line);
				exit(1);
			}
		}
	fclose(f);
	CHECK(found);
}

int main(void)
{
	struct sigaction sa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	test_decode();

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = prev_trap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK_EQ(sigaction(SIGTRAP, &sa, NULL), 0);

	CHECK_EQ(strcmp(poke_sync_method(), "none"), 0);
	CHECK_EQ(poke_text((void *)site5, single5, nop5, 5), -EBADF);
	CHECK_EQ(poke_init(), 0);
	CHECK_EQ(poke_init(), 0);
	printf("init: sync method %s\n", poke_sync_method());

	test_chain();
	test_chain_default(SIG_DFL, "SIG_DFL");
	test_chain_default(SIG_IGN, "SIG_IGN");
	test_errors();
	test_stress();
	test_bp();
	test_move();
	test_fork();

	check_rx((void *)site5, "site5");
	check_rx((void *)site6, "site6");
	check_rx((void *)site_ret, "site_ret");
	check_rx((void *)bp_target, "bp_target");
	printf("maps: every poked page is still r-xp\n");

	poke_fini();
	CHECK_EQ(sigaction(SIGTRAP, NULL, &sa), 0);
	CHECK(sa.sa_sigaction == prev_trap);
	CHECK_EQ(poke_text((void *)site5, nop5, single5, 5), -EBADF);
	printf("PASS\n");
	return 0;
}
