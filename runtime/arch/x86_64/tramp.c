// SPDX-License-Identifier: MIT
/*
 * tramp.c - per-site trampolines and the allocator that maps them within
 * +/-2 GB of their sites.
 *
 * Memory: regions of TRAMP_CODE_PAGES read+exec pages followed by
 * TRAMP_DATA_PAGES read+write pages. Slot i of a region uses code bytes
 * [i * CODE_SLOT, +CODE_SLOT) and data bytes [i * DATA_SLOT, +DATA_SLOT) of
 * the data pages. Code is never mapped writable: it is written once through
 * /proc/self/mem (poke_text()) before the site that jumps to it is armed.
 * The last TRAMP_COPY_MAX bytes of a code slot hold a prologue site's
 * relocated instructions (tramp_set_copy()), within rel32 of the site.
 *
 * Code of one trampoline (data fields are RIP-relative; see struct
 * tramp_data; WOFF/COFF are the TLS offsets of the thread's word and
 * countdown from %fs):
 *
 *   T_ENTRY:    ff 25 <mode>                jmp   *mode(%rip)
 *   T_CALLOPS:  SAVE
 *               48 8b 3d <site>             mov   site(%rip), %rdi
 *               48 89 ee                    mov   %rbp, %rsi
 *               ff 15 <c_ops>               call  *c_ops(%rip)
 *               RESTORE
 *               ff 25 <after_ops>           jmp   *after_ops(%rip)
 *   T_DISPATCH: 64 ff 0c 25 <COFF>          decl  %fs:COFF
 *               78 1f                       js    T_SLOW     (try a switch)
 *               41 52                       push  %r10
 *               4c 8d 15 <slots>            lea   slots(%rip), %r10
 *               64 44 8b 1c 25 <WOFF>       mov   %fs:WOFF, %r11d
 *               41 83 e3 07                 and   $7, %r11d
 *               4f 8b 1c da                 mov   (%r10,%r11,8), %r11
 *               41 5a                       pop   %r10
 *               41 ff e3                    jmp   *%r11
 *
 *   The thread's word picks its slot and the slot's content is loaded by
 *   one instruction: whatever happens to the site while the thread is
 *   stopped before it, the slot it reads belongs to the generation of its
 *   own word (a new transition turns the old generation's slots into the
 *   slow path before anything else changes), and a target loaded after it
 *   stays right for the thread's state, which only the thread changes.
 *   (The kernel gets the same from running klp_ftrace_handler() with
 *   preemption disabled.) Threads in the target state get a countdown of
 *   INT32_MAX; the others count down to the next switch try.
 *   T_SLOW:     SAVE
 *               48 8b 3d <site>             mov   site(%rip), %rdi
 *               48 89 ee                    mov   %rbp, %rsi
 *               ff 15 <c_slow>              call  *c_slow(%rip)
 *               48 89 45 30                 mov   %rax, 0x30(%rbp) (r11 slot)
 *               RESTORE
 *               41 ff e3                    jmp   *%r11
 *
 *   SAVE:    push rax rdi rsi rdx rcx r8 r9 r10 r11 rbx r12 r13 r14 r15 rbp
 *            (struct tramp_regs, rsp 16-aligned after it: entry rsp is 8
 *            mod 16 and 15 pushes), mov %rsp,%rbp, sub $XS+64,%rsp,
 *            and $-64,%rsp, zero the xsave header (rep stosq of 8 qwords at
 *            512(%rsp)), eax = edx = -1, xsave64 (%rsp)   [fxsave64 without
 *            XSAVE]: every vector and x87 register of the caller survives
 *            the C call.
 *   RESTORE: eax = edx = -1, xrstor64 (%rsp), mov %rbp,%rsp, pops.
 *
 * At a function entry r11 is free (never an argument), rax carries the
 * number of vector arguments of variadic calls and is preserved; flags are
 * not preserved across calls; the red zone below rsp belongs to the callee,
 * which has not run yet, so the pushes are safe.
 */
#include <errno.h>
#include <cpuid.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "poke.h"
#include "threads.h"
#include "tramp.h"

#define PAGE		 4096UL
#define TRAMP_CODE_PAGES 16
#define TRAMP_DATA_PAGES 4
#define CODE_SLOT	 512
#define DATA_SLOT	 128
#define SLOTS_PER_REGION (TRAMP_CODE_PAGES * PAGE / CODE_SLOT)
#define REGION_SIZE	 ((TRAMP_CODE_PAGES + TRAMP_DATA_PAGES) * PAGE)
#define REL32_REACH	 (0x7fffffffL - (long)REGION_SIZE)

_Static_assert(SLOTS_PER_REGION *DATA_SLOT <= TRAMP_DATA_PAGES * PAGE,
	       "data pages hold a slot per code slot");
_Static_assert(sizeof(struct tramp_data) <= DATA_SLOT, "data slot size");

struct region {
	uint8_t *base;
	unsigned used;
	struct tramp slots[SLOTS_PER_REGION];
	struct region *next;
};

static pthread_mutex_t tramp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;
static struct tramp *free_list; /* recyclable */
static long n_alloc, n_regions;
static uint32_t xsave_size; /* 0: use fxsave (512 bytes) */

int tramp_init(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return -ENOTSUP;
	/* XSAVE (ecx bit 26) enabled by the OS (OSXSAVE, ecx bit 27). */
	if ((c & (1u << 26)) && (c & (1u << 27))) {
		__cpuid_count(0xd, 0, a, b, c, d);
		xsave_size = b; /* size for the features enabled in XCR0 */
	} else {
		xsave_size = 0;
	}
	return 0;
}

/* A tiny assembler over a buffer. */
struct emit {
	uint8_t *buf;
	size_t len;
	uint64_t at; /* run-time address of buf[0] */
};

static void put(struct emit *e, const void *p, size_t n)
{
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void put32(struct emit *e, uint32_t v)
{
	put(e, &v, 4);
}

/* Instruction bytes @op then a rel32 to @target measured from the end. */
static void rip_insn(struct emit *e, const uint8_t *op, size_t n,
		     uint64_t target)
{
	put(e, op, n);
	put32(e, (uint32_t)(int32_t)(target - (e->at + e->len + 4)));
}

static uint64_t here(struct emit *e)
{
	return e->at + e->len;
}

static void emit_save(struct emit *e)
{
	static const uint8_t pushes[] = {
	    0x50, 0x57, 0x56, 0x52, 0x51, /* rax rdi rsi rdx rcx */
	    0x41, 0x50, 0x41, 0x51, 0x41, 0x52, 0x41, 0x53, /* r8-r11 */
	    0x53, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56,	    /* rbx r12-r14 */
	    0x41, 0x57, 0x55,				    /* r15 rbp */
	    0x48, 0x89, 0xe5,				    /* mov %rsp,%rbp */
	};
	uint32_t area = (xsave_size ? xsave_size : 512) + 64;

	put(e, pushes, sizeof(pushes));
	put(e, (uint8_t[]){0x48, 0x81, 0xec}, 3); /* sub $area,%rsp */
	put32(e, area);
	put(e, (uint8_t[]){0x48, 0x83, 0xe4, 0xc0}, 4); /* and $-64,%rsp */
	if (xsave_size) {
		static const uint8_t xs[] = {
		    0x48, 0x8d, 0xbc, 0x24, 0x00,
		    0x02, 0x00, 0x00,		  /* lea 512(%rsp),%rdi */
		    0xb9, 0x08, 0x00, 0x00, 0x00, /* mov $8,%ecx */
		    0x31, 0xc0,			  /* xor %eax,%eax */
		    0xf3, 0x48, 0xab,		  /* rep stosq */
		    0xb8, 0xff, 0xff, 0xff, 0xff, /* mov $-1,%eax */
		    0xba, 0xff, 0xff, 0xff, 0xff, /* mov $-1,%edx */
		    0x48, 0x0f, 0xae, 0x24, 0x24, /* xsave64 (%rsp) */
		};
		put(e, xs, sizeof(xs));
	} else {
		put(e, (uint8_t[]){0x48, 0x0f, 0xae, 0x04, 0x24},
		    5); /* fxsave64 */
	}
}

static void emit_restore(struct emit *e)
{
	static const uint8_t pops[] = {
	    0x48, 0x89, 0xec, /* mov %rbp,%rsp */
	    0x5d, 0x41, 0x5f, 0x41, 0x5e,
	    0x41, 0x5d, 0x41, 0x5c, /* rbp r15-r12 */
	    0x5b, 0x41, 0x5b, 0x41, 0x5a,
	    0x41, 0x59, 0x41, 0x58,	  /* rbx r11-r8 */
	    0x59, 0x5a, 0x5e, 0x5f, 0x58, /* rcx rdx rsi rdi rax */
	};

	if (xsave_size) {
		static const uint8_t xr[] = {
		    0xb8, 0xff, 0xff, 0xff, 0xff, /* mov $-1,%eax */
		    0xba, 0xff, 0xff, 0xff, 0xff, /* mov $-1,%edx */
		    0x48, 0x0f, 0xae, 0x2c, 0x24, /* xrstor64 (%rsp) */
		};
		put(e, xr, sizeof(xr));
	} else {
		put(e, (uint8_t[]){0x48, 0x0f, 0xae, 0x0c, 0x24},
		    5); /* fxrstor64 */
	}
	put(e, pops, sizeof(pops));
}

static void emit_ccall(struct emit *e, uint64_t data, size_t field)
{
	static const uint8_t mov_rdi[] = {0x48, 0x8b, 0x3d};
	static const uint8_t call_ind[] = {0xff, 0x15};

	rip_insn(e, mov_rdi, 3,
		 data + offsetof(struct tramp_data, site)); /* mov site,%rdi */
	put(e, (uint8_t[]){0x48, 0x89, 0xee}, 3);	    /* mov %rbp,%rsi */
	rip_insn(e, call_ind, 2, data + field);		    /* call *field */
}

#define JMP_IND ((const uint8_t[]){0xff, 0x25})

static size_t emit_tramp(struct emit *e, uint64_t d, uint64_t *l_callops,
			 uint64_t *l_dispatch, uint64_t *l_slow_out)
{
	static const uint8_t lea_r10[] = {0x4c, 0x8d, 0x15};
	uint64_t l_slow;

	rip_insn(e, JMP_IND, 2, d + offsetof(struct tramp_data, mode));

	*l_callops = here(e);
	emit_save(e);
	emit_ccall(e, d, offsetof(struct tramp_data, c_ops));
	emit_restore(e);
	rip_insn(e, JMP_IND, 2, d + offsetof(struct tramp_data, after_ops));

	*l_dispatch = here(e);
	put(e, (uint8_t[]){0x64, 0xff, 0x0c, 0x25}, 4); /* decl %fs:COFF */
	put32(e, (uint32_t)(int32_t)threads_tls_countdown_off);
	put(e, (uint8_t[]){0x78, 0x1f}, 2); /* js T_SLOW (+31) */
	size_t from = e->len;

	put(e, (uint8_t[]){0x41, 0x52}, 2); /* push %r10 */
	rip_insn(e, lea_r10, 3, d + offsetof(struct tramp_data, slots));
	put(e, (uint8_t[]){0x64, 0x44, 0x8b, 0x1c, 0x25}, 5);
	put32(e, (uint32_t)(int32_t)threads_tls_word_off);
	put(e, (uint8_t[]){0x41, 0x83, 0xe3, 0x07}, 4); /* and $7,%r11d */
	put(e, (uint8_t[]){0x4f, 0x8b, 0x1c, 0xda},
	    4);					  /* mov (%r10,%r11,8),%r11 */
	put(e, (uint8_t[]){0x41, 0x5a}, 2);	  /* pop %r10 */
	put(e, (uint8_t[]){0x41, 0xff, 0xe3}, 3); /* jmp *%r11 */
	if (e->len - from != 0x1f)
		abort(); /* invariant: the js above skips exactly this */

	l_slow = here(e);
	*l_slow_out = l_slow;
	emit_save(e);
	emit_ccall(e, d, offsetof(struct tramp_data, c_slow));
	put(e, (uint8_t[]){0x48, 0x89, 0x45, 0x30}, 4); /* rax -> r11 slot */
	emit_restore(e);
	put(e, (uint8_t[]){0x41, 0xff, 0xe3}, 3); /* jmp *%r11 */
	return e->len;
}

/* A free address range of REGION_SIZE within rel32 reach of @near. */
static uint8_t *map_near(uintptr_t near)
{
	uintptr_t lo =
	    near > (uintptr_t)REL32_REACH ? near - REL32_REACH : PAGE * 16;
	uintptr_t hi = near + REL32_REACH;
	uintptr_t prev_end = 0x10000, best = 0, bestd = ~0UL;
	char line[512], prev_name[64] = "";
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return NULL;
	for (;;) {
		uintptr_t s = 0, en = 0, cand;
		int have = fgets(line, sizeof(line), f) != NULL;

		if (have && sscanf(line, "%lx-%lx", &s, &en) != 2)
			continue;
		if (!have)
			s = 0x7ffffffff000UL; /* top of user space */
		/* The gap [prev_end, s). Keep a guard page on both sides and
		 * never sit right above the heap, which grows up. */
		uintptr_t gs = prev_end + PAGE, ge = s > PAGE ? s - PAGE : 0;

		if (strstr(prev_name, "[heap]"))
			gs += 1UL << 30;
		if (ge > gs && ge - gs >= REGION_SIZE) {
			/* the end of the gap nearest to @near */
			cand =
			    near < gs ? gs : (ge - REGION_SIZE) & ~(PAGE - 1);
			if (near >= gs && near < ge)
				cand = (near - REGION_SIZE) & ~(PAGE - 1);
			if (cand < gs)
				cand = gs;
			if (cand >= lo && cand + REGION_SIZE <= hi) {
				uintptr_t dist =
				    cand > near ? cand - near : near - cand;
				if (dist < bestd) {
					bestd = dist;
					best = cand;
				}
			}
		}
		if (!have)
			break;
		prev_end = en;
		char *nm =
		    strchr(line, '/') ? strchr(line, '/') : strchr(line, '[');
		snprintf(prev_name, sizeof(prev_name), "%s", nm ? nm : "");
	}
	fclose(f);
	if (!best) {
		errno = ENOSPC;
		return NULL;
	}
	void *p =
	    mmap((void *)best, REGION_SIZE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (p != (void *)best) {
		munmap(p, REGION_SIZE);
		errno = EEXIST;
		return NULL;
	}
	if (mprotect(p, TRAMP_CODE_PAGES * PAGE, PROT_READ | PROT_EXEC) ||
	    mprotect((uint8_t *)p + TRAMP_CODE_PAGES * PAGE,
		     TRAMP_DATA_PAGES * PAGE, PROT_READ | PROT_WRITE)) {
		munmap(p, REGION_SIZE);
		return NULL;
	}
	return p;
}

static int in_reach(uintptr_t a, uintptr_t b)
{
	long d = (long)(a - b);

	return d > -REL32_REACH && d < REL32_REACH;
}

static struct tramp *slot_get(uintptr_t near)
{
	struct tramp **pp;
	struct region *r;

	for (pp = &free_list; *pp; pp = &(*pp)->next_free) {
		if (in_reach((uintptr_t)(*pp)->code, near)) {
			struct tramp *t = *pp;

			*pp = t->next_free;
			return t;
		}
	}
	for (r = regions; r; r = r->next)
		if (r->used < SLOTS_PER_REGION &&
		    in_reach((uintptr_t)r->base, near))
			break;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		r->base = map_near(near);
		if (!r->base) {
			free(r);
			return NULL;
		}
		r->next = regions;
		regions = r;
		n_regions++;
	}
	struct tramp *t = &r->slots[r->used];

	t->code = r->base + (size_t)r->used * CODE_SLOT;
	t->data = (struct tramp_data *)(r->base + TRAMP_CODE_PAGES * PAGE +
					(size_t)r->used * DATA_SLOT);
	r->used++;
	return t;
}

struct tramp *tramp_alloc(uintptr_t near, uint64_t site, uint64_t c_slow,
			  uint64_t c_ops, uint64_t orig)
{
	uint8_t code[CODE_SLOT], cur[CODE_SLOT];
	struct emit e = {.buf = code};
	struct tramp *t;
	size_t len;

	pthread_mutex_lock(&tramp_lock);
	t = slot_get(near);
	if (!t) {
		pthread_mutex_unlock(&tramp_lock);
		return NULL;
	}
	e.at = (uint64_t)(uintptr_t)t->code;
	len = emit_tramp(&e, (uint64_t)(uintptr_t)t->data, &t->l_callops,
			 &t->l_dispatch, &t->l_slow);
	if (len > CODE_SLOT - TRAMP_COPY_MAX)
		abort(); /* invariant: the trampoline and a copy fit a slot */
	t->copy = t->code + CODE_SLOT - TRAMP_COPY_MAX;

	t->data->site = site;
	t->data->c_slow = c_slow;
	t->data->c_ops = c_ops;
	t->data->orig = orig;
	t->data->after_ops = t->l_dispatch;
	for (int i = 0; i < 8; i++)
		t->data->slots[i] = t->l_slow;
	t->data->mode = orig;

	/* A recycled slot holds its old code: verify against what is there. */
	memcpy(cur, t->code, len);
	if (poke_text(t->code, cur, code, len) < 0) {
		t->next_free = free_list;
		free_list = t;
		pthread_mutex_unlock(&tramp_lock);
		errno = EIO;
		return NULL;
	}
	n_alloc++;
	pthread_mutex_unlock(&tramp_lock);
	return t;
}

int tramp_set_copy(struct tramp *t, const uint8_t *code, size_t len)
{
	uint8_t cur[TRAMP_COPY_MAX];
	int ret;

	if (len > TRAMP_COPY_MAX)
		return -EINVAL;
	/* A recycled slot may hold an old copy: verify against it. */
	memcpy(cur, t->copy, len);
	ret = poke_text(t->copy, cur, code, len);
	if (ret)
		return ret;
	/* Not published yet: the site is armed (with a sync) later. */
	t->data->orig = (uint64_t)(uintptr_t)t->copy;
	t->data->mode = (uint64_t)(uintptr_t)t->copy;
	return 0;
}

/*
 * A freed trampoline is recycled only when every thread that might still be
 * inside it left: each thread has made a voluntary context switch since
 * (a trampoline's fast path makes no system call; its slow path is counted
 * by the caller, see hook.c) or sleeps in the kernel right now.
 */
struct grave {
	struct tramp *t;
	pid_t *tids;
	unsigned long *vcsw;
	size_t n;
	struct grave *next;
};
static struct grave *graves;

static int read_status(pid_t tid, unsigned long *vcsw, char *state)
{
	char path[64], line[256];
	FILE *f;
	int got = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "State:", 6)) {
			*state = line[7];
			got |= 1;
		} else if (!strncmp(line, "voluntary_ctxt_switches:", 24)) {
			*vcsw = strtoul(line + 24, NULL, 10);
			got |= 2;
		}
	}
	fclose(f);
	return got == 3 ? 0 : -1;
}

void tramp_free(struct tramp *t)
{
	struct threads_entry *th = NULL;
	struct grave *g;
	size_t n = 0;

	g = calloc(1, sizeof(*g));
	if (!g || threads_snapshot(&th, &n) < 0) {
		free(g);
		return; /* never recycled: a small leak beats a crash */
	}
	g->t = t;
	g->tids = calloc(n ? n : 1, sizeof(pid_t));
	g->vcsw = calloc(n ? n : 1, sizeof(unsigned long));
	if (!g->tids || !g->vcsw) {
		free(g->tids);
		free(g->vcsw);
		free(g);
		free(th);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char st;

		g->tids[g->n] = th[i].tid;
		if (read_status(th[i].tid, &g->vcsw[g->n], &st) == 0)
			g->n++;
	}
	free(th);
	pthread_mutex_lock(&tramp_lock);
	g->next = graves;
	graves = g;
	n_alloc--;
	pthread_mutex_unlock(&tramp_lock);
	tramp_reclaim();
}

void tramp_reclaim(void)
{
	pid_t self = threads_gettid();
	struct grave **pp;

	pthread_mutex_lock(&tramp_lock);
	for (pp = &graves; *pp;) {
		struct grave *g = *pp;
		int quiet = 1;

		for (size_t i = 0; i < g->n && quiet; i++) {
			unsigned long v;
			char st;

			if (g->tids[i] == self)
				continue;
			if (read_status(g->tids[i], &v, &st) < 0)
				continue; /* gone */
			if (v == g->vcsw[i] && st != 'S')
				quiet = 0;
		}
		if (!quiet) {
			pp = &g->next;
			continue;
		}
		*pp = g->next;
		g->t->next_free = free_list;
		free_list = g->t;
		free(g->tids);
		free(g->vcsw);
		free(g);
	}
	pthread_mutex_unlock(&tramp_lock);
}

long tramp_count(long *nregions)
{
	long n;

	pthread_mutex_lock(&tramp_lock);
	n = n_alloc;
	if (nregions)
		*nregions = n_regions;
	pthread_mutex_unlock(&tramp_lock);
	return n;
}
