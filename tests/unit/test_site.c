// SPDX-License-Identifier: MIT
/*
 * test_site - the site decoder and the arming protocols of
 * runtime/arch/x86_64/site.c on real functions of this program.
 *
 * The sites: a -fpatchable-function-entry=16,14 pad (compiled by gcc), the
 * same pad after endbr64 and a single 5-byte nop (both written in asm
 * below), and 5 one-byte nops (patchable_function_entry(5, 0)). Each is
 * decoded with the record addresses the compiler would have produced, then
 * armed to a real trampoline whose mode jumps to a replacement, and armed
 * and disarmed 500 times while 3 threads call it.
 *
 * Prints one line per check; exits 0 when all pass, 1 otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poke.h"
#include "site.h"
#include "threads.h"
#include "tramp.h"
#include "check.h"

#ifdef __clang__
#define NOIPA __attribute__((noinline))
#else
#define NOIPA __attribute__((noipa))
#endif

#define NTHREADS 3
#define ITERS	 500
#define ORIG(x)	 ((x) + 1)
#define REPL(x)	 ((x) + 1000000)
#define REPL2(x) ((x) + 2000000)

/* --- the functions under test ---------------------------------------- */

__attribute__((patchable_function_entry(16, 14))) NOIPA int f_pad(int x)
{
	return ORIG(x);
}

/* Only decoded, with bytes changed: never called while changed. */
__attribute__((patchable_function_entry(16, 14))) NOIPA int f_pad_chg(int x)
{
	return ORIG(x);
}

__attribute__((patchable_function_entry(5, 0))) NOIPA int f_nops(int x)
{
	return ORIG(x);
}

NOIPA int f_repl(int x)
{
	return REPL(x);
}

NOIPA int f_repl2(int x)
{
	return REPL2(x);
}

/*
 * f_endbr: the pad as gcc lays it out with -fcf-protection (14 nops before
 * the symbol, endbr64, 2 nops). f_endbr_nops: patchable_function_entry(5, 0)
 * with -fcf-protection (endbr64, then 5 nops). f_nop5: one 5-byte nop at
 * the entry, as -mnop-mcount leaves it. All return x + 1.
 */
int f_endbr(int x);
int f_endbr_nops(int x);
int f_nop5(int x);

__asm__(".pushsection .text\n"
	"	.p2align 4\n"
	"	.rept 14\n"
	"	nop\n"
	"	.endr\n"
	"	.globl f_endbr\n"
	"	.type f_endbr, @function\n"
	"f_endbr:\n"
	"	endbr64\n"
	"	nop\n"
	"	nop\n"
	"	lea 1(%rdi), %eax\n"
	"	ret\n"
	"	.size f_endbr, . - f_endbr\n"
	"	.p2align 4\n"
	"	.globl f_endbr_nops\n"
	"	.type f_endbr_nops, @function\n"
	"f_endbr_nops:\n"
	"	endbr64\n"
	"	.rept 5\n"
	"	nop\n"
	"	.endr\n"
	"	lea 1(%rdi), %eax\n"
	"	ret\n"
	"	.size f_endbr_nops, . - f_endbr_nops\n"
	"	.p2align 4\n"
	"	.globl f_nop5\n"
	"	.type f_nop5, @function\n"
	"f_nop5:\n"
	"	.byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"
	"	lea 1(%rdi), %eax\n"
	"	ret\n"
	"	.size f_nop5, . - f_nop5\n"
	".popsection\n");

static const uint8_t endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};
static const uint8_t nop5[5] = {0x0f, 0x1f, 0x44, 0x00, 0x00};
static const uint8_t harmless[6] = {0x90, 0x9e, 0xf5, 0xf8, 0xf9, 0xfc};

/* Where the patched instruction is: after endbr64 if there is one. */
static uintptr_t entry_of(int (*fn)(int))
{
	uintptr_t f = (uintptr_t)fn;

	return f + (memcmp((void *)f, endbr64, 4) ? 0 : 4);
}

/* The target of the "e9 rel32" at @at, or 0 if there is none. */
static uintptr_t jmp_target(uintptr_t at)
{
	const uint8_t *p = (const uint8_t *)at;
	int32_t rel;

	if (p[0] != 0xe9)
		return 0;
	memcpy(&rel, p + 1, 4);
	return at + 5 + (uintptr_t)(intptr_t)rel;
}

/* --- decoding -------------------------------------------------------- */

static void test_decode(void)
{
	uintptr_t f = (uintptr_t)f_pad, e = entry_of(f_pad);
	struct site_info si;
	int ret;

	ret = site_decode(f, f - 14, 0, 0, &si);
	check(ret == 0 && si.kind == SITE_PAD && si.reason == SITE_OK &&
		  si.func == f && si.entry == e && si.len == 2 &&
		  si.jmp_at == e - 9 && si.orig == e + 2 && si.old[0] == 0x90 &&
		  si.old[1] == 0x90 && !si.jmp_written,
	      "decode pad (16,14) at %#lx: ret %d kind %s entry +%lu len %zu "
	      "jmp_at entry%+ld orig entry+%lu",
	      (unsigned long)f, ret, site_kind_str(si.kind),
	      (unsigned long)(si.entry - f), si.len, (long)(si.jmp_at - e),
	      (unsigned long)(si.orig - e));

	f = (uintptr_t)f_endbr;
	e = f + 4;
	ret = site_decode(f, f - 14, 0, 0, &si);
	check(ret == 0 && si.kind == SITE_PAD && si.entry == e && si.len == 2 &&
		  si.jmp_at == e - 9 && si.jmp_at == f - 5 &&
		  si.orig == e + 2 && !memcmp(si.old, "\x90\x90", 2),
	      "decode endbr64 pad: ret %d kind %s entry func+%lu jmp_at "
	      "func%+ld orig entry+%lu",
	      ret, site_kind_str(si.kind), (unsigned long)(si.entry - f),
	      (long)(si.jmp_at - f), (unsigned long)(si.orig - e));

	f = (uintptr_t)f_nops;
	e = entry_of(f_nops);
	ret = site_decode(f, f, 0, 0, &si);
	check(ret == 0 && si.kind == SITE_NOPS && si.entry == e &&
		  si.len == 5 && si.orig == e + 5 &&
		  !memcmp(si.old, "\x90\x90\x90\x90\x90", 5) &&
		  !memcmp(si.rel, "\x90\x90\x90\x90", 4) && !si.jmp_written,
	      "decode nops (5,0): ret %d kind %s entry func+%lu len %zu "
	      "orig entry+%lu",
	      ret, site_kind_str(si.kind), (unsigned long)(si.entry - f),
	      si.len, (unsigned long)(si.orig - e));

	f = (uintptr_t)f_endbr_nops;
	ret = site_decode(f, f, 0, 0, &si);
	check(ret == 0 && si.kind == SITE_NOPS && si.entry == f + 4 &&
		  si.len == 5 && si.orig == f + 9 &&
		  !memcmp(si.old, "\x90\x90\x90\x90\x90", 5),
	      "decode endbr64 + nops (5,0): ret %d kind %s entry func+%lu "
	      "orig entry+%lu",
	      ret, site_kind_str(si.kind),
	      si.entry ? (unsigned long)(si.entry - f) : 0,
	      si.orig ? (unsigned long)(si.orig - si.entry) : 0);

	f = (uintptr_t)f_nop5;
	ret = site_decode(f, 0, 1, 0, &si);
	check(ret == 0 && si.kind == SITE_NOP5 && si.entry == f &&
		  si.len == 5 && si.jmp_at == f && si.orig == f + 5 &&
		  !memcmp(si.old, nop5, 5),
	      "decode 5-byte nop (mcount record): ret %d kind %s len %zu "
	      "jmp_at func%+ld orig func+%lu",
	      ret, site_kind_str(si.kind), si.len, (long)(si.jmp_at - f),
	      (unsigned long)(si.orig - f));

	ret = site_decode(f, f, 0, 0, &si);
	check(ret == 0 && si.kind == SITE_NOP5,
	      "decode 5-byte nop (pfe record at the entry): ret %d kind %s",
	      ret, site_kind_str(si.kind));

	/* No record at all. */
	ret = site_decode((uintptr_t)f_repl, 0, 0, 0, &si);
	check(ret == -EOPNOTSUPP && si.kind == SITE_NONE &&
		  si.reason == SITE_NO_SIZE,
	      "plain function, no record: ret %d kind %s reason \"%s\"", ret,
	      site_kind_str(si.kind), site_reason_str(si.reason));
	ret = site_decode((uintptr_t)f_nop5, 0, 0, 0, &si);
	check(ret == -EOPNOTSUPP && si.kind == SITE_NONE &&
		  si.reason == SITE_NO_SIZE,
	      "5-byte nop without a record: ret %d reason %d", ret, si.reason);
	ret = site_decode((uintptr_t)f_pad, 0, 0, 0, &si);
	check(ret == -EOPNOTSUPP && si.reason == SITE_NO_SIZE,
	      "pad without its record: ret %d reason %d", ret, si.reason);

	/* A record that leaves too little padding for the jmp. */
	f = (uintptr_t)f_pad;
	ret = site_decode(f, entry_of(f_pad) - 6, 0, 0, &si);
	check(ret == -EOPNOTSUPP && si.kind == SITE_NONE &&
		  si.reason == SITE_PAD_TOO_SHORT,
	      "pad record 6 bytes before the entry: ret %d reason \"%s\"", ret,
	      site_reason_str(si.reason));
}

/*
 * A real pad whose bytes someone else changed (written through the same
 * /proc/self/mem path the runtime uses, then put back).
 */
static void test_bytes_changed(void)
{
	uintptr_t f = (uintptr_t)f_pad_chg, e = entry_of(f_pad_chg);
	struct site_info si;
	int ret, w;

	w = poke_text((void *)(f - 12), "\x90", "\x00", 1);
	ret = site_decode(f, f - 14, 0, 0, &si);
	check(w == 0 && ret == -EOPNOTSUPP && si.kind == SITE_NONE &&
		  si.reason == SITE_BYTES_CHANGED,
	      "pad with a padding byte changed: ret %d reason \"%s\"", ret,
	      site_reason_str(si.reason));
	w = poke_text((void *)(f - 12), "\x00", "\x90", 1);

	w |= poke_text((void *)e, "\x90", "\xc3", 1);
	ret = site_decode(f, f - 14, 0, 0, &si);
	check(w == 0 && ret == -EOPNOTSUPP && si.reason == SITE_BYTES_CHANGED,
	      "pad with its entry nop changed: ret %d reason \"%s\"", ret,
	      site_reason_str(si.reason));
	w = poke_text((void *)e, "\xc3", "\x90", 1);

	w |= poke_text((void *)(e + 1), "\x90", "\xcc", 1);
	ret = site_decode(f, f - 14, 0, 0, &si);
	check(w == 0 && ret == -EOPNOTSUPP && si.reason == SITE_BYTES_CHANGED,
	      "pad with its second entry nop changed: ret %d reason \"%s\"",
	      ret, site_reason_str(si.reason));
	w = poke_text((void *)(e + 1), "\xcc", "\x90", 1);

	ret = site_decode(f, f - 14, 0, 0, &si);
	check(w == 0 && ret == 0 && si.kind == SITE_PAD &&
		  ORIG(41) == f_pad_chg(41),
	      "pad with its bytes put back: ret %d kind %s", ret,
	      site_kind_str(si.kind));
}

/* --- arming under load ----------------------------------------------- */

static int (*volatile stress_fn)(int);
static atomic_int stress_stop;
static atomic_ulong stress_orig, stress_repl, stress_bad;

static void *stress_thread(void *arg)
{
	unsigned long o = 0, r = 0, bad = 0;
	int x = (int)(uintptr_t)arg * 100000;

	while (!atomic_load_explicit(&stress_stop, memory_order_relaxed)) {
		int v = stress_fn(x);

		if (v == ORIG(x))
			o++;
		else if (v == REPL(x))
			r++;
		else
			bad++;
		x = (x + 1) % 900000;
		/* publish progress now and then, for the start barrier */
		if (!((o + r) & 1023)) {
			atomic_fetch_add(&stress_orig, o);
			atomic_fetch_add(&stress_repl, r);
			o = r = 0;
		}
	}
	atomic_fetch_add(&stress_orig, o);
	atomic_fetch_add(&stress_repl, r);
	atomic_fetch_add(&stress_bad, bad);
	return NULL;
}

/*
 * Decode @fn's site with the given records, arm it to a trampoline whose
 * mode is f_repl, and arm/disarm ITERS times while NTHREADS threads call
 * it. The main thread nchecks after every arm and disarm that its own call
 * goes where it must.
 */
static void stress_site(const char *name, int (*fn)(int), uintptr_t pfe,
			int mcount, enum site_kind kind)
{
	uintptr_t f = (uintptr_t)fn;
	unsigned long traps0 = poke_stats_traps(), calls;
	pthread_t th[NTHREADS];
	struct site_info si, si2;
	int ret, i, wrong = 0, arm_err = 0, started = 0;
	struct tramp *t, *t2;
	uint8_t e_now[16];

	ret = site_decode(f, pfe, mcount, 0, &si);
	check(ret == 0 && si.kind == kind, "%s: decode: ret %d kind %s", name,
	      ret, site_kind_str(si.kind));
	if (ret)
		return;
	ret = site_prepare(&si);
	check(ret == 0 && site_jump_source(&si) == si.jmp_at &&
		  (kind != SITE_NOPS || si.jmp_at != 0),
	      "%s: prepare: ret %d, jump source entry%+ld", name, ret,
	      (long)(site_jump_source(&si) - si.entry));
	if (ret)
		return;
	if (kind == SITE_NOPS) {
		int32_t rel;
		bool ok = true;

		memcpy(&rel, si.rel, 4);
		for (i = 0; i < 4; i++)
			ok &= memchr(harmless, si.rel[i], 6) != NULL;
		check(ok &&
			  si.jmp_at == si.entry + 5 + (uintptr_t)(intptr_t)rel,
		      "%s: stub at entry+5%+d, rel32 bytes %02x %02x %02x %02x "
		      "all harmless",
		      name, rel, si.rel[0], si.rel[1], si.rel[2], si.rel[3]);
	}

	t = tramp_alloc(site_jump_source(&si), 0, 0, 0, si.orig);
	check(t != NULL, "%s: trampoline allocated near the jump source (%s)",
	      name, t ? "yes" : strerror(errno));
	if (!t)
		return;
	__atomic_store_n(&t->data->mode, (uint64_t)(uintptr_t)f_repl,
			 __ATOMIC_RELEASE);

	stress_fn = fn;
	atomic_store(&stress_stop, 0);
	atomic_store(&stress_orig, 0);
	atomic_store(&stress_repl, 0);
	atomic_store(&stress_bad, 0);
	for (i = 0; i < NTHREADS; i++)
		started += !pthread_create(&th[i], NULL, stress_thread,
					   (void *)(uintptr_t)(i + 1));
	/* Let the callers get going before the first write. */
	while (started == NTHREADS && atomic_load(&stress_orig) < 4096)
		sched_yield();

	for (i = 0; i < ITERS; i++) {
		int r;

		ret = site_arm(&si, (uintptr_t)t->code);
		if (ret) {
			arm_err = ret;
			break;
		}
		r = stress_fn(i);
		wrong += r != REPL(i);
		if (i & 1)
			sched_yield(); /* let the callers run while armed */
		ret = site_disarm(&si);
		if (ret) {
			arm_err = ret;
			break;
		}
		r = stress_fn(i);
		wrong += r != ORIG(i);
	}
	atomic_store(&stress_stop, 1);
	for (int k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	calls = atomic_load(&stress_orig) + atomic_load(&stress_repl);

	check(started == NTHREADS, "%s: %d caller threads started", name,
	      started);
	check(arm_err == 0 && i == ITERS,
	      "%s: %d arms and disarms succeeded (last error %d)", name, i,
	      arm_err);
	check(wrong == 0,
	      "%s: main thread: every call after an arm reached the "
	      "replacement, after a disarm the original (%d wrong)",
	      name, wrong);
	check(atomic_load(&stress_bad) == 0 && calls > 0,
	      "%s: %d threads: %lu calls, %lu original, %lu replacement, %lu "
	      "other results; %lu traps emulated",
	      name, NTHREADS, calls, atomic_load(&stress_orig),
	      atomic_load(&stress_repl), atomic_load(&stress_bad),
	      poke_stats_traps() - traps0);

	memcpy(e_now, (void *)si.entry, si.len);
	switch (kind) {
	case SITE_PAD:
		check(!memcmp(e_now, si.old, 2) && e_now[0] == 0x90 &&
			  e_now[1] == 0x90 &&
			  jmp_target(si.jmp_at) == (uintptr_t)t->code,
		      "%s: disarmed: entry %02x %02x as before, the jmp at "
		      "entry%+ld still leads to the trampoline",
		      name, e_now[0], e_now[1], (long)(si.jmp_at - si.entry));
		break;
	case SITE_NOPS:
		check(e_now[0] == 0x90 && !memcmp(e_now + 1, si.rel, 4) &&
			  jmp_target(si.jmp_at) == (uintptr_t)t->code,
		      "%s: disarmed: entry %02x, then the harmless rel32 "
		      "%02x %02x %02x %02x (kept by design), the stub still "
		      "leads to the trampoline",
		      name, e_now[0], e_now[1], e_now[2], e_now[3], e_now[4]);
		break;
	default:
		check(!memcmp(e_now, si.old, si.len) && !memcmp(e_now, nop5, 5),
		      "%s: disarmed: entry is the original 5-byte nop again",
		      name);
		break;
	}
	check(fn(77) == ORIG(77),
	      "%s: disarmed: a direct call runs the "
	      "original",
	      name);

	/*
	 * The site as a later decode sees it (the persistent jump is in
	 * place): arm it again, to a new trampoline with another target.
	 */
	ret = site_decode(f, pfe, mcount, 0, &si2);
	check(ret == 0 && si2.kind == kind && si2.entry == si.entry &&
		  si2.jmp_written == (kind == SITE_PAD || kind == SITE_NOPS),
	      "%s: decoded again after the disarm: ret %d kind %s "
	      "jmp_written %d",
	      name, ret, site_kind_str(si2.kind), si2.jmp_written);
	if (ret || site_prepare(&si2))
		return;
	t2 = tramp_alloc(site_jump_source(&si2), 0, 0, 0, si2.orig);
	if (!t2)
		return;
	__atomic_store_n(&t2->data->mode, (uint64_t)(uintptr_t)f_repl2,
			 __ATOMIC_RELEASE);
	ret = site_arm(&si2, (uintptr_t)t2->code);
	int r = fn(5);

	check(ret == 0 && r == REPL2(5),
	      "%s: re-decoded site armed to a new trampoline reaches it "
	      "(ret %d; call returned %s)",
	      name, ret,
	      r == REPL2(5)  ? "the new target"
	      : r == REPL(5) ? "the OLD trampoline's target"
	      : r == ORIG(5) ? "the original"
			     : "garbage");
	ret = site_disarm(&si2);
	check(ret == 0 && fn(6) == ORIG(6) &&
		  ((uint8_t *)si.entry)[0] == si.old[0],
	      "%s: and disarmed again (ret %d)", name, ret);
}

int main(int argc, char **argv)
{
	int ret;

	(void)argc;
	(void)argv;
	ret = threads_init();
	check(ret == 0, "threads_init: %d", ret);
	ret = poke_init();
	check(ret == 0, "poke_init: %d (sync: %s)", ret, poke_sync_method());
	ret = tramp_init();
	check(ret == 0, "tramp_init: %d", ret);
	if (nfailed) {
		printf("%d nchecks, %d failed\n", nchecks, nfailed);
		return 1;
	}

	test_decode();
	test_bytes_changed();

	stress_site("pad", f_pad, (uintptr_t)f_pad - 14, 0, SITE_PAD);
	stress_site("endbr64 pad", f_endbr, (uintptr_t)f_endbr - 14, 0,
		    SITE_PAD);
	stress_site("nops (5,0)", f_nops, (uintptr_t)f_nops, 0, SITE_NOPS);
	stress_site("endbr64 nops (5,0)", f_endbr_nops, (uintptr_t)f_endbr_nops,
		    0, SITE_NOPS);
	stress_site("5-byte nop", f_nop5, 0, 1, SITE_NOP5);

	printf("%d nchecks, %d failed\n", nchecks, nfailed);
	return nfailed ? 1 : 0;
}
