// SPDX-License-Identifier: MIT
/*
 * test_x86reloc - the prologue relocator (common/x86reloc.c) on the
 * assembly fixtures of tests/unit/fixtures/prologues.S.
 *
 * For every fixture: plan from a heap copy of its bytes (exactly st_size
 * long, so that ASan sees any read past the function) for a copy placed in
 * a read+exec buffer within +/-2 GB, and check the reason, the offsets and,
 * where written below, every byte of the copy. The relocatable ones are
 * then run, each for a set of inputs:
 *   - the copy, called as the function, against the untouched original;
 *   - "moved": an int3 is written at each displaced instruction boundary in
 *     turn and the original called; the SIGTRAP handler moves the thread
 *     into the copy with x86reloc_map_pc(), as the runtime will move a
 *     thread stopped inside the displaced bytes;
 *   - "patched": the entry is armed as the runtime will arm it (e9 rel32 to
 *     a replacement, int3 over the rest of the displaced bytes); the
 *     original must now give the replacement's result and the copy the
 *     original's, and nothing may reach the int3s.
 * Code is written through /proc/self/mem, as the runtime writes it.
 *
 * Build and run:
 *	cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
 *	   -D_GNU_SOURCE -Iinclude -Icommon tests/unit/test_x86reloc.c \
 *	   tests/unit/fixtures/prologues.S common/x86reloc.c -lcapstone \
 *	   -o /tmp/test_x86reloc && /tmp/test_x86reloc /tmp/scr
 * Prints one line per check; exits 0 when all pass, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "x86reloc.h"
#include "check.h"

/* --- the fixtures (prologues.S) ---------------------------------------- */

#define FIXTURES(X)                                                            \
	X(fx_rip_lea)                                                          \
	X(fx_rip_mov)                                                          \
	X(fx_rip_cmp)                                                          \
	X(fx_rip_store)                                                        \
	X(fx_rip_66)                                                           \
	X(fx_rip_sse)                                                          \
	X(fx_rip_vex)                                                          \
	X(fx_endbr_rip)                                                        \
	X(fx_tail)                                                             \
	X(fx_jmp_ind)                                                          \
	X(fx_jmp8)                                                             \
	X(fx_jcc8_out)                                                         \
	X(fx_jcc32_out)                                                        \
	X(fx_jcc8_in)                                                          \
	X(fx_jcc32_in)                                                         \
	X(fx_jcc8_fwd)                                                         \
	X(fx_loop)                                                             \
	X(fx_jrcxz)                                                            \
	X(fx_jecxz)                                                            \
	X(fx_entryloop)                                                        \
	X(fx_endbr)                                                            \
	X(fx_gcc)                                                              \
	X(fx_hot)                                                              \
	X(fx_hot_cold)                                                         \
	X(fx_call)                                                             \
	X(fx_endbr_call)                                                       \
	X(fx_call_rip)                                                         \
	X(fx_call_mid)                                                         \
	X(fx_short)                                                            \
	X(fx_endbr_short)                                                      \
	X(fx_backjump)                                                         \
	X(fx_endbr_backjump)                                                   \
	X(fx_backjump_last)                                                    \
	X(fx_backjump32)                                                       \
	X(fx_addr_taken)                                                       \
	X(fx_ret)                                                              \
	X(fx_int3)                                                             \
	X(fx_ud2)                                                              \
	X(fx_jmpfirst)                                                         \
	X(fx_bad)                                                              \
	X(fx_bad_late)                                                         \
	X(fx_eip)                                                              \
	X(fx_xbegin)                                                           \
	X(fx_jcc66)                                                            \
	X(fx_rip_self)                                                         \
	X(fx_double)                                                           \
	X(fx_new)

#define DECLARE(name)                                                          \
	extern const uint8_t name[];                                           \
	extern const uint64_t name##_size;
FIXTURES(DECLARE)

extern int fx_data, fx_cmpval, fx_store;
extern float fx_flt;
extern void *fx_fnptr;

/* How a fixture is called. */
enum abi {
	ABI_X,	 /* int f(int x) */
	ABI_N,	 /* int f(int x, int, int, long n), n = aux */
	ABI_N1,	 /* the same with n = aux + 1 (loop: n >= 1) */
	ABI_N32, /* the same with n = 1 << 32 (%ecx 0, %rcx not) for odd aux */
	ABI_CF,	 /* int f(int x) entered with CF = aux & 1 (fx_call_cf) */
};

/* Flags. */
#define F_AVX	    1 /* run only where the CPU has AVX */
#define F_ENTRYLOOP 2 /* jumps to its entry: patched, x < 10 -> fx_new */
#define F_COLD	    4 /* fx_hot: x < 0 re-enters via fx_hot_cold */

struct fx {
	const char *name;
	const uint8_t *code;
	const uint64_t *size;
	enum x86reloc_reason reason;
	size_t at;
	size_t skip, displaced, ninsn;
	/*
	 * The copy, byte by byte, or NULL: hex bytes, and rel32 fields
	 * {F+n@m} (to the function + n), {C+n@m} (to the copy + n) and
	 * {D:sym@m} (to a data symbol or fx_double), each from the copy + m
	 * (the address after the instruction).
	 */
	const char *copy;
	enum abi abi;
	int flags;
	void (*prep)(long aux);
};

static void prep_data(long aux)
{
	fx_data = 1000 + (int)aux;
}

static void prep_cmp(long aux)
{
	fx_cmpval = aux & 1 ? 42 : 41;
}

static void prep_store(long aux)
{
	fx_store = 0;
}

/* clang-format off */
#define OK(n, skip, disp, ninsn, copy, abi, flags, prep)                       \
	{#n, n, &n##_size, X86RELOC_OK, 0, skip, disp, ninsn, copy, abi,       \
	 flags, prep}
#define NO(n, reason, at)                                                      \
	{#n, n, &n##_size, X86RELOC_##reason, at, 0, 0, 0, NULL, ABI_X, 0, NULL}
/* clang-format on */

static const struct fx fixtures[] = {
    OK(fx_rip_lea, 0, 7, 1, "48 8d 05 {D:fx_data@7} e9 {F+7@12}", ABI_X, 0,
       prep_data),
    OK(fx_rip_mov, 0, 6, 1, "8b 05 {D:fx_data@6} e9 {F+6@11}", ABI_X, 0,
       prep_data),
    OK(fx_rip_cmp, 0, 7, 1, "83 3d {D:fx_cmpval@7} 2a e9 {F+7@12}", ABI_X, 0,
       prep_cmp),
    OK(fx_rip_store, 0, 10, 1, "c7 05 {D:fx_store@10} 5a 5a 00 00 e9 {F+10@15}",
       ABI_X, 0, prep_store),
    OK(fx_rip_66, 0, 9, 1, "66 c7 05 {D:fx_store@9} 34 12 e9 {F+9@14}", ABI_X,
       0, prep_store),
    OK(fx_rip_sse, 0, 8, 1, "f3 0f 10 05 {D:fx_flt@8} e9 {F+8@13}", ABI_X, 0,
       NULL),
    OK(fx_rip_vex, 0, 8, 1, "c5 fa 10 05 {D:fx_flt@8} e9 {F+8@13}", ABI_X,
       F_AVX, NULL),
    OK(fx_endbr_rip, 4, 6, 1, "8b 05 {D:fx_data@6} e9 {F+10@11}", ABI_X, 0,
       prep_data),
    OK(fx_tail, 0, 5, 1, "e9 {D:fx_double@5} e9 {F+5@10}", ABI_X, 0, NULL),
    OK(fx_jmp_ind, 0, 6, 1, "ff 25 {D:fx_fnptr@6} e9 {F+6@11}", ABI_X, 0, NULL),
    OK(fx_jmp8, 0, 5, 2, "8d 47 01 e9 {F+6@8} e9 {F+5@13}", ABI_X, 0, NULL),
    OK(fx_jcc8_out, 0, 9, 3, "85 ff 0f 88 {F+10@8} b8 01 00 00 00 e9 {F+9@18}",
       ABI_X, 0, NULL),
    OK(fx_jcc32_out, 0, 8, 2, "85 ff 0f 88 {F+14@8} e9 {F+8@13}", ABI_X, 0,
       NULL),
    OK(fx_jcc8_in, 0, 5, 3, "90 ff cf 0f 8f {C+1@9} e9 {F+5@14}", ABI_X, 0,
       NULL),
    OK(fx_jcc32_in, 0, 9, 3, "90 ff cf 0f 8f {C+1@9} e9 {F+9@14}", ABI_X, 0,
       NULL),
    OK(fx_jcc8_fwd, 0, 7, 3, "0f 82 {C+8@6} ff c7 8d 47 0a e9 {F+7@16}", ABI_CF,
       0, NULL),
    OK(fx_loop, 0, 6, 3, "89 f8 ff c0 e2 02 eb 05 e9 {C+2@13} e9 {F+6@18}",
       ABI_N1, 0, NULL),
    OK(fx_jrcxz, 0, 6, 3, "e3 02 eb 05 e9 {C+11@9} ff c7 89 f8 e9 {F+6@18}",
       ABI_N, 0, NULL),
    OK(fx_jecxz, 0, 5, 2, "67 e3 02 eb 05 e9 {F+5@10} ff c7 e9 {F+5@17}",
       ABI_N32, 0, NULL),
    OK(fx_entryloop, 0, 5, 2, "83 ff 0a 0f 8d {F+9@9} e9 {F+5@14}", ABI_X,
       F_ENTRYLOOP, NULL),
    OK(fx_endbr, 4, 7, 3, "55 48 89 e5 8d 47 05 e9 {F+11@12}", ABI_X, 0, NULL),
    OK(fx_gcc, 0, 8, 3, "55 48 89 e5 48 83 ec 20 e9 {F+8@13}", ABI_X, 0, NULL),
    OK(fx_hot, 0, 5, 3, "53 89 fb 85 ff e9 {F+5@10}", ABI_X, F_COLD, NULL),
    OK(fx_call, 0, 5, 1, NULL, ABI_X, 0, NULL),
    OK(fx_endbr_call, 4, 6, 2, NULL, ABI_X, 0, NULL),
    OK(fx_call_rip, 0, 10, 2, NULL, ABI_X, 0, NULL),
    NO(fx_call_mid, CALL_IN_PROLOGUE, 0),
    NO(fx_short, TOO_SHORT, 3),
    NO(fx_endbr_short, TOO_SHORT, 7),
    NO(fx_backjump, JUMP_INTO_PROLOGUE, 2),
    NO(fx_endbr_backjump, JUMP_INTO_PROLOGUE, 6),
    NO(fx_backjump_last, JUMP_INTO_PROLOGUE, 4),
    NO(fx_backjump32, JUMP_INTO_PROLOGUE, 1),
    NO(fx_addr_taken, JUMP_INTO_PROLOGUE, 1),
    NO(fx_ret, RET_IN_PROLOGUE, 2),
    NO(fx_int3, INT3_IN_PROLOGUE, 1),
    NO(fx_ud2, UD2_IN_PROLOGUE, 2),
    NO(fx_jmpfirst, JMP_IN_PROLOGUE, 0),
    NO(fx_bad, UNDECODABLE, 0),
    NO(fx_bad_late, UNDECODABLE, 8),
    NO(fx_eip, UNRELOCATABLE, 0),
    NO(fx_xbegin, UNRELOCATABLE, 0),
    NO(fx_jcc66, UNRELOCATABLE, 2),
    NO(fx_rip_self, UNRELOCATABLE, 1),
};

#define NFIX	 (sizeof(fixtures) / sizeof(fixtures[0]))
#define SLOT	 128	/* bytes per copy in the buffer */
#define REPL_ADD 0x7000 /* fx_new(x) = x + REPL_ADD */
#define FAR	 (3ULL << 30)

static const struct {
	long x, aux;
} inputs[] = {{-5, 0}, {-1, 1}, {0, 0}, {0, 1},	 {1, 2},
	      {7, 1},  {7, 0},	{9, 3}, {42, 5}, {100, 1}};

#define NINPUTS (sizeof(inputs) / sizeof(inputs[0]))

/* --- nchecks ------------------------------------------------------------ */

static const char *reason(enum x86reloc_reason r, size_t at)
{
	static char buf[8][80];
	static int i;

	i = (i + 1) % 8;
	return x86reloc_reason_str(r, at, buf[i], sizeof(buf[i]));
}

/* --- memory ------------------------------------------------------------ */

static int memfd = -1;

/* Write code as the runtime does: through /proc/self/mem. */
static int text_write(uintptr_t addr, const void *buf, size_t n)
{
	return pwrite(memfd, buf, n, (off_t)addr) == (ssize_t)n ? 0 : -errno;
}

/* @len read+write bytes within 1 GB of @near (a hint first, then probes). */
static uint8_t *alloc_near(uintptr_t near, size_t len)
{
	uintptr_t base = near & ~(uintptr_t)0xfff;

	for (uintptr_t d = 1UL << 24; d < 1UL << 30; d += 1UL << 24) {
		for (int s = -1; s <= 1; s += 2) {
			uintptr_t h = s < 0 ? base - d : base + d;
			void *m = mmap((void *)h, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			uintptr_t a = (uintptr_t)m;

			if (m == MAP_FAILED)
				continue;
			if ((a > near ? a - near : near - a) < 1UL << 30)
				return m;
			munmap(m, len);
		}
	}
	return NULL;
}

/* --- expected copies --------------------------------------------------- */

static uint64_t data_addr(const char *sym)
{
	static const struct {
		const char *name;
		const void *addr;
	} syms[] = {
	    {"fx_data", &fx_data},   {"fx_cmpval", &fx_cmpval},
	    {"fx_store", &fx_store}, {"fx_flt", &fx_flt},
	    {"fx_fnptr", &fx_fnptr}, {"fx_double", fx_double},
	};

	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
		if (!strcmp(syms[i].name, sym))
			return (uintptr_t)syms[i].addr;
	fprintf(stderr, "unknown symbol %s\n", sym);
	exit(1);
}

/* Build the expected copy from @spec (see struct fx). Return its length. */
static size_t expect_copy(const char *spec, uint64_t func, uint64_t copy,
			  uint8_t *out, size_t max)
{
	size_t n = 0;
	const char *s = spec;

	while (*s) {
		char sym[32];
		unsigned long v, next;
		uint64_t to;
		int32_t r;
		int used;

		if (*s == ' ') {
			s++;
			continue;
		}
		if (n + 4 > max)
			break;
		if (sscanf(s, "{F+%lu@%lu}%n", &v, &next, &used) == 2) {
			to = func + v;
		} else if (sscanf(s, "{C+%lu@%lu}%n", &v, &next, &used) == 2) {
			to = copy + v;
		} else if (sscanf(s, "{D:%31[a-z_]@%lu}%n", sym, &next,
				  &used) == 2) {
			to = data_addr(sym);
		} else {
			out[n++] = (uint8_t)strtoul(s, NULL, 16);
			s += 2;
			continue;
		}
		r = (int32_t)(to - (copy + next));
		memcpy(out + n, &r, 4);
		n += 4;
		s += used;
	}
	return n;
}

static size_t fx_index(const char *name)
{
	for (size_t i = 0; i < NFIX; i++)
		if (!strcmp(fixtures[i].name, name))
			return i;
	fprintf(stderr, "no fixture %s\n", name);
	exit(1);
}

/* --- running fixtures -------------------------------------------------- */

extern int fx_call_cf_fn(uintptr_t fn, int x, int cf) __asm__("fx_call_cf");

static long call_fx(const struct fx *f, uintptr_t fn, long x, long aux)
{
	if (f->prep)
		f->prep(aux);
	switch (f->abi) {
	case ABI_X:
		return ((int (*)(int))fn)((int)x);
	case ABI_N:
		return ((int (*)(int, int, int, long))fn)((int)x, 0, 0, aux);
	case ABI_N1:
		return ((int (*)(int, int, int, long))fn)((int)x, 0, 0,
							  aux + 1);
	case ABI_N32:
		return ((int (*)(int, int, int, long))fn)(
		    (int)x, 0, 0, aux & 1 ? 1L << 32 : aux);
	case ABI_CF:
		return fx_call_cf_fn(fn, (int)x, (int)(aux & 1));
	}
	return -1;
}

/* The SIGTRAP handler's state. */
static struct {
	const struct x86reloc_plan *p;
	uint64_t func, copy;
	int move; /* move a trapped thread into the copy, else it is stray */
	int hits; /* threads moved */
	uint64_t stray; /* pc of an int3 nobody should have reached, or of
			 * a fault */
	sigjmp_buf env;
} tr;

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uint64_t pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP], npc;

	/* an int3 reports the address after it */
	if (sig == SIGTRAP) {
		pc--;
		if (tr.move &&
		    !x86reloc_map_pc(tr.p, tr.func, tr.copy, pc, &npc)) {
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)npc;
			tr.hits++;
			return;
		}
	}
	/* a stray int3, or wrong code run: report it, do not crash or hang */
	tr.stray = pc;
	siglongjmp(tr.env, 1);
}

/* Call @fn; 0, or -1 when it reached a stray int3, faulted or looped. */
static int run(const struct fx *f, uintptr_t fn, long x, long aux, long *res)
{
	struct itimerval limit = {.it_value = {.tv_usec = 200000}}, off = {0};

	tr.stray = 0;
	if (sigsetjmp(tr.env, 1)) {
		setitimer(ITIMER_REAL, &off, NULL);
		return -1;
	}
	setitimer(ITIMER_REAL, &limit, NULL); /* wrong code may also loop */
	*res = call_fx(f, fn, x, aux);
	setitimer(ITIMER_REAL, &off, NULL);
	return 0;
}

static bool runnable(const struct fx *f)
{
	if (f->flags & F_AVX) {
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx");
	}
	return true;
}

/* The copy against the untouched original. */
static void test_copy(const struct fx *f, uintptr_t func, uintptr_t copy,
		      const long *base)
{
	int bad = 0, trapped = 0;
	long r;

	for (size_t i = 0; i < NINPUTS; i++) {
		if (run(f, copy, inputs[i].x, inputs[i].aux, &r)) {
			trapped++;
			continue;
		}
		if (r != base[i]) {
			printf("  %s(%ld, %ld): copy %ld, original %ld\n",
			       f->name, inputs[i].x, inputs[i].aux, r, base[i]);
			bad++;
		}
	}
	check(!bad && !trapped, "%s: copy run on %zu inputs: %d wrong, %d trap",
	      f->name, NINPUTS, bad, trapped);
}

/* A thread stopped at each displaced boundary is moved into the copy. */
static void test_moved(const struct fx *f, const struct x86reloc_plan *p,
		       uintptr_t func, uintptr_t copy, const long *base)
{
	for (size_t k = 0; k < p->ninsn; k++) {
		uintptr_t at = func + p->skip + p->insn_off[k];
		uint8_t old = *(const uint8_t *)at, cc = 0xcc;
		int bad = 0, stray = 0, total = 0, wret;
		long r;

		wret = text_write(at, &cc, 1);
		if (wret) {
			check(false, "%s: write int3 at +0x%zx: %s", f->name,
			      (size_t)(at - func), strerror(-wret));
			return;
		}
		tr.p = p;
		tr.func = func;
		tr.copy = copy;
		tr.move = 1;
		for (size_t i = 0; i < NINPUTS; i++) {
			tr.hits = 0;
			if (run(f, func, inputs[i].x, inputs[i].aux, &r)) {
				stray++;
				continue;
			}
			total += tr.hits;
			if (r != base[i] || (k == 0 && !tr.hits))
				bad++;
		}
		tr.move = 0;
		wret = text_write(at, &old, 1);
		check(!wret && !bad && !stray && total > 0,
		      "%s: thread at +0x%zx moved to copy+0x%zx: %d moves, "
		      "%d wrong, %d stray",
		      f->name, (size_t)(at - func), p->copy_off[k], total, bad,
		      stray);
	}
}

/* Armed as the runtime arms a prologue site: jmp to fx_new + int3s. */
static void test_patched(const struct fx *f, const struct x86reloc_plan *p,
			 uintptr_t func, uintptr_t copy, const long *base)
{
	uintptr_t e = func + p->skip;
	uint8_t old[32], arm[32];
	int32_t rel = (int32_t)((uintptr_t)fx_new - (e + 5));
	int bad = 0, stray = 0, cold = 0, wret;
	long r, want;

	memcpy(old, (const void *)e, p->displaced);
	memset(arm, 0xcc, p->displaced);
	/* fx_hot: the cold part comes back to +1, inside the jmp's rel32,
	 * where it would run garbage; int3s throughout make that visible */
	if (!(f->flags & F_COLD)) {
		arm[0] = 0xe9;
		memcpy(arm + 1, &rel, 4);
	}
	wret = text_write(e, arm, p->displaced);
	if (wret) {
		check(false, "%s: arm: %s", f->name, strerror(-wret));
		return;
	}
	tr.move = 0;
	for (size_t i = 0; i < NINPUTS; i++) {
		long x = inputs[i].x, aux = inputs[i].aux;

		/* the patched function */
		if (!(f->flags & F_COLD) &&
		    (run(f, func, x, aux, &r) || r != x + REPL_ADD))
			bad++;
		/* the original, through the copy */
		want = base[i];
		if ((f->flags & F_ENTRYLOOP) && x < 10)
			want = x + 1 + REPL_ADD;
		if (run(f, copy, x, aux, &r)) {
			/* fx_hot: x < 0 comes back into the prologue */
			if ((f->flags & F_COLD) && x < 0 && tr.stray == e + 1)
				cold++;
			else
				stray++;
			continue;
		}
		if (r != want)
			bad++;
	}
	wret = text_write(e, old, p->displaced);
	check(!wret, "%s: disarm", f->name);
	if (f->flags & F_COLD) {
		check(!bad && !stray && cold == 2,
		      "%s: int3s over the displaced bytes: copy ok for x >= 0, "
		      "x < 0 comes back from fx_hot_cold to +0x1 (%d times; "
		      "what x86reloc_scan finds), %d wrong, %d stray",
		      f->name, cold, bad, stray);
		return;
	}
	check(!bad && !stray,
	      "%s: patched: function -> fx_new, copy -> original: %d wrong, "
	      "%d stray",
	      f->name, bad, stray);
}

static void test_map_pc(const struct fx *f, const struct x86reloc_plan *p,
			uintptr_t func, uintptr_t copy)
{
	uintptr_t lo = func + p->skip;
	uint64_t npc;
	int bad = 0;
	size_t k = 0;

	for (size_t d = 0; d < p->displaced; d++) {
		int ret = x86reloc_map_pc(p, func, copy, lo + d, &npc);

		if (k < p->ninsn && p->insn_off[k] == d) {
			if (ret || npc != copy + p->copy_off[k])
				bad++;
			k++;
		} else if (ret != -EINVAL) {
			bad++;
		}
	}
	if (x86reloc_map_pc(p, func, copy, lo + p->displaced, &npc) != -ERANGE)
		bad++;
	if (x86reloc_map_pc(p, func, copy, lo - 1, &npc) != -ERANGE)
		bad++;
	check(!bad && k == p->ninsn,
	      "%s: map_pc: %zu boundaries -> copy, %zu inside -> -EINVAL, "
	      "outside -> -ERANGE",
	      f->name, p->ninsn, p->displaced - p->ninsn);
}

/* --- the tests ---------------------------------------------------------- */

static int plan_fx(const struct fx *f, uint64_t copy, struct x86reloc_plan *p)
{
	size_t n = (size_t)*f->size;
	uint8_t *code = malloc(n ? n : 1);
	int ret;

	if (!code)
		abort();
	memcpy(code, f->code, n);
	ret = x86reloc_plan(code, n, (uintptr_t)f->code, copy, p);
	free(code);
	return ret;
}

static void test_fixtures(uint8_t *buf)
{
	static struct x86reloc_plan plans[NFIX];
	static long base[NFIX][NINPUTS];

	/* plan everything while the buffer is writable */
	for (size_t i = 0; i < NFIX; i++) {
		const struct fx *f = &fixtures[i];
		struct x86reloc_plan *p = &plans[i];
		uintptr_t func = (uintptr_t)f->code,
			  copy = (uintptr_t)buf + i * SLOT;
		int ret = plan_fx(f, copy, p);

		if (f->reason != X86RELOC_OK) {
			check(ret == -EOPNOTSUPP && p->reason == f->reason &&
				  p->reason_at == f->at && !p->copy_len,
			      "%s: refused: \"%s\" (want \"%s\")", f->name,
			      reason(p->reason, p->reason_at),
			      reason(f->reason, f->at));
			continue;
		}
		check(ret == 0 && p->reason == X86RELOC_OK &&
			  p->skip == f->skip && p->displaced == f->displaced &&
			  p->ninsn == f->ninsn,
		      "%s: plan: %d \"%s\", skip %zu, displaced %zu, %zu insns "
		      "(want 0 \"ok\", %zu, %zu, %zu)",
		      f->name, ret, reason(p->reason, p->reason_at), p->skip,
		      p->displaced, p->ninsn, f->skip, f->displaced, f->ninsn);
		if (ret)
			continue;
		if (f->copy) {
			uint8_t want[X86RELOC_COPY_MAX];
			size_t n = expect_copy(f->copy, func, copy, want,
					       sizeof(want));
			bool same =
			    n == p->copy_len && !memcmp(want, p->copy, n);

			check(same, "%s: copy is %s (%zu bytes)", f->name,
			      f->copy, p->copy_len);
			if (!same) {
				for (size_t j = 0; j < p->copy_len; j++)
					printf(" %02x", p->copy[j]);
				printf("   <- got\n");
				for (size_t j = 0; j < n; j++)
					printf(" %02x", want[j]);
				printf("   <- want\n");
			}
		}
		memcpy((void *)copy, p->copy, p->copy_len);
	}
	check(!mprotect(buf, NFIX * SLOT, PROT_READ | PROT_EXEC),
	      "copies mapped read+exec");

	for (size_t i = 0; i < NFIX; i++) {
		const struct fx *f = &fixtures[i];
		struct x86reloc_plan *p = &plans[i];
		uintptr_t func = (uintptr_t)f->code,
			  copy = (uintptr_t)buf + i * SLOT;

		if (f->reason != X86RELOC_OK || p->reason != X86RELOC_OK)
			continue;
		test_map_pc(f, p, func, copy);
		if (!runnable(f)) {
			printf("skip: %s: run (no AVX)\n", f->name);
			continue;
		}
		for (size_t k = 0; k < NINPUTS; k++) {
			tr.move = 0;
			if (run(f, func, inputs[k].x, inputs[k].aux,
				&base[i][k])) {
				check(false, "%s: original trapped", f->name);
				break;
			}
		}
		test_copy(f, func, copy, base[i]);
		test_moved(f, p, func, copy, base[i]);
		test_patched(f, p, func, copy, base[i]);
	}

	/* a few results, to know the fixtures do what they say */
	long lea = base[fx_index("fx_rip_lea")][0];
	long gcc = base[fx_index("fx_gcc")][5];
	long in1 = base[fx_index("fx_jcc8_in")][4];
	long in5 = base[fx_index("fx_jcc8_in")][0];
	long loop = base[fx_index("fx_loop")][4];
	long rcx = base[fx_index("fx_jrcxz")][0];
	long ecx = base[fx_index("fx_jecxz")][1];

	check(lea == 1000 + 0 - 5 && gcc == 7 + 3 && in1 == 0 && in5 == -6 &&
		  loop == 1 + 3 && rcx == -5 && ecx == -1,
	      "fixture results: fx_rip_lea(-5) %ld, fx_gcc(7) %ld, "
	      "fx_jcc8_in(1) %ld, fx_jcc8_in(-5) %ld, fx_loop(1, n=3) %ld, "
	      "fx_jrcxz(-5, n=0) %ld, fx_jecxz(-1, n=1<<32) %ld",
	      lea, gcc, in1, in5, loop, rcx, ecx);
}

/* References from outside the function: gcc's f.cold. */
static void test_scan(uint8_t *buf)
{
	const struct fx *f = &fixtures[fx_index("fx_hot")];
	uintptr_t hot = (uintptr_t)fx_hot, cold = (uintptr_t)fx_hot_cold;
	struct x86reloc_plan p;
	int ret;

	ret = plan_fx(f, (uintptr_t)buf, &p);
	check(ret == 0, "fx_hot: plan alone: %d", ret);
	ret = x86reloc_scan(&p, hot, fx_gcc, fx_gcc_size, (uintptr_t)fx_gcc);
	check(ret == 0 && p.reason == X86RELOC_OK,
	      "scan fx_gcc for jumps into fx_hot: %d \"%s\"", ret,
	      reason(p.reason, p.reason_at));
	ret = x86reloc_scan(&p, hot, fx_hot_cold, fx_hot_cold_size, cold);
	check(ret == -EOPNOTSUPP && p.reason == X86RELOC_JUMP_INTO_PROLOGUE &&
		  p.reason_at == 1,
	      "scan fx_hot_cold: %d \"%s\" (want \"jump into prologue at "
	      "+0x1\")",
	      ret, reason(p.reason, p.reason_at));
	ret = x86reloc_scan(&p, hot, fx_hot_cold, fx_hot_cold_size, cold);
	check(ret == -EINVAL, "scan with a refused plan: %d (want -EINVAL)",
	      ret);

	ret = plan_fx(f, (uintptr_t)buf, &p);
	ret = ret
		  ?: x86reloc_scan(&p, hot, fx_bad, fx_bad_size,
				   (uintptr_t)fx_bad);
	check(ret == -EOPNOTSUPP && p.reason == X86RELOC_UNDECODABLE &&
		  p.reason_at == 0,
	      "scan undecodable code: %d \"%s\"", ret,
	      reason(p.reason, p.reason_at));
}

/* Copies too far away for rel32. */
static void test_far(void)
{
	static const struct {
		const char *fx;
		int64_t delta;
		size_t at;
	} cases[] = {
	    {"fx_rip_lea", (int64_t)FAR, 0},   /* the lea's operand */
	    {"fx_gcc", (int64_t)FAR, 8},       /* the jmp back */
	    {"fx_jcc8_out", -(int64_t)FAR, 2}, /* the js */
	    {"fx_tail", (int64_t)FAR, 0},      /* the jmp */
	};
	struct x86reloc_plan p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fx *f = &fixtures[fx_index(cases[i].fx)];
		uint64_t copy = (uintptr_t)f->code + (uint64_t)cases[i].delta;
		int ret = plan_fx(f, copy, &p);

		check(ret == -EOPNOTSUPP && p.reason == X86RELOC_OUT_OF_RANGE &&
			  p.reason_at == cases[i].at,
		      "%s: copy %+lld GB away: %d \"%s\"", f->name,
		      (long long)(cases[i].delta >> 30), ret,
		      reason(p.reason, p.reason_at));
	}
}

static void test_api(void)
{
	struct x86reloc_plan p;
	uint64_t npc;
	char small[8];
	const char *s;
	int ret;

	check(x86reloc_plan(fx_gcc, fx_gcc_size, 0, 0, NULL) == -EINVAL,
	      "plan: NULL plan -> -EINVAL");
	check(x86reloc_plan(NULL, 8, 0, 0, &p) == -EINVAL,
	      "plan: NULL code -> -EINVAL");
	ret = x86reloc_plan(fx_gcc, 0, (uintptr_t)fx_gcc, 0, &p);
	check(ret == -EOPNOTSUPP && p.reason == X86RELOC_TOO_SHORT,
	      "plan: size 0 -> \"%s\"", reason(p.reason, p.reason_at));
	/* a 4-byte function: too short even though more bytes follow */
	ret = x86reloc_plan(fx_gcc, 4, (uintptr_t)fx_gcc, 0, &p);
	check(ret == -EOPNOTSUPP && p.reason == X86RELOC_TOO_SHORT,
	      "plan: fx_gcc cut to 4 bytes -> \"%s\"",
	      reason(p.reason, p.reason_at));
	/* st_size ending inside a displaced instruction */
	ret = x86reloc_plan(fx_gcc, 6, (uintptr_t)fx_gcc, 0, &p);
	check(ret == -EOPNOTSUPP && p.reason == X86RELOC_UNDECODABLE &&
		  p.reason_at == 4,
	      "plan: fx_gcc cut to 6 bytes -> \"%s\"",
	      reason(p.reason, p.reason_at));
	check(x86reloc_map_pc(&p, 0, 0, 0, &npc) == -EINVAL,
	      "map_pc on a refused plan -> -EINVAL");
	check(x86reloc_map_pc(NULL, 0, 0, 0, &npc) == -EINVAL,
	      "map_pc on NULL -> -EINVAL");

	s = x86reloc_reason_str(X86RELOC_JUMP_INTO_PROLOGUE, 0x12, small,
				sizeof(small));
	check(s == small && !strcmp(s, "jump in"),
	      "reason_str truncates to the buffer: \"%s\"", s);
	s = x86reloc_reason_str(X86RELOC_JUMP_INTO_PROLOGUE, 0x12, NULL, 0);
	check(!strcmp(s, "jump into prologue"),
	      "reason_str without a buffer: \"%s\"", s);
	char j[64], t[64], c[64], o[64], u[64];

	x86reloc_reason_str(X86RELOC_JUMP_INTO_PROLOGUE, 0x12, j, sizeof(j));
	x86reloc_reason_str(X86RELOC_TOO_SHORT, 3, t, sizeof(t));
	x86reloc_reason_str(X86RELOC_CALL_IN_PROLOGUE, 0, c, sizeof(c));
	x86reloc_reason_str(X86RELOC_OK, 0, o, sizeof(o));
	x86reloc_reason_str((enum x86reloc_reason)99, 0, u, sizeof(u));
	check(!strcmp(j, "jump into prologue at +0x12") &&
		  !strcmp(t, "too short") && !strcmp(c, "call in prologue") &&
		  !strcmp(o, "ok") && !strcmp(u, "unknown reason"),
	      "reason_str: \"%s\", \"%s\", \"%s\", \"%s\", \"%s\"", j, t, c, o,
	      u);
}

int main(int argc, char **argv)
{
	static uint8_t altstack[1 << 16] __attribute__((aligned(16)));
	struct sigaction sa;
	stack_t ss;
	uint8_t *buf;

	(void)argc;
	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	memfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	check(memfd >= 0, "open /proc/self/mem: %s",
	      memfd >= 0 ? "ok" : strerror(errno));
	/* the handler must run even when wrong code broke %rsp */
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	check(!sigaltstack(&ss, NULL), "sigaltstack");
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	check(
	    !sigaction(SIGTRAP, &sa, NULL) && !sigaction(SIGSEGV, &sa, NULL) &&
		!sigaction(SIGILL, &sa, NULL) &&
		!sigaction(SIGBUS, &sa, NULL) && !sigaction(SIGALRM, &sa, NULL),
	    "SIGTRAP, SIGSEGV, SIGILL, SIGBUS, SIGALRM handlers");
	buf = alloc_near((uintptr_t)fx_gcc, NFIX * SLOT);
	check(buf != NULL,
	      "copy buffer within 1 GB of the fixtures: %p "
	      "(fixtures at %p)",
	      (void *)buf, (const void *)fx_gcc);
	if (nfailed) {
		printf("%d nchecks, %d failed\n", nchecks, nfailed);
		return 1;
	}

	test_fixtures(buf);
	test_scan(buf);
	test_far();
	test_api();
	munmap(buf, NFIX * SLOT);
	close(memfd);

	printf("%d nchecks, %d failed\n", nchecks, nfailed);
	return nfailed ? 1 : 0;
}
