// SPDX-License-Identifier: MIT
/*
 * unwind.c - remote unwinding of one stopped thread with libunwind.
 *
 * libunwind-ptrace's accessors read one word per ptrace call (libunwind
 * reads ~120 words per frame: table search, FDE and CIE) and map an
 * object's file again (reading /proc/PID/maps) whenever the unwind moves
 * to another object, all while the thread is stopped. These accessors do
 * what perf does instead: registers come from
 * the caller, memory is read a page at a time (process_vm_readv through
 * proc_read), and the unwind table of an object is its .eh_frame_hdr,
 * found from its program headers (proc.c's; for the vDSO, which has no
 * file, from its image in the target). Pages of read-only segments (where
 * .eh_frame_hdr and .eh_frame live) are kept between calls; everything
 * else (the stack, code) only for one unwind.
 *
 * Reliability is judged on top of libunwind, which on x86-64 reports
 * success from unw_get_proc_info() even for a frame without CFI (it then
 * makes up a one-byte procedure): a frame counts only when our
 * find_proc_info found its FDE.
 */
#include <elf.h>
#include <errno.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "stackcheck.h"
#include "unwind.h"

/* Exported by libunwind for its own ptrace and coredump accessors (and used
 * the same way by perf): binary search of a .eh_frame_hdr table through
 * the address space's accessors. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as,
					      unw_word_t ip, unw_dyn_info_t *di,
					      unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

#define UW_PAGE	     4096ul
#define UW_NPAGES    1024 /* page cache slots (4 MiB) */
#define UW_PREFETCH  512  /* pages unwind_prepare() reads at most */
#define UW_WAYS	     4	  /* slots a page may use */
#define UW_MAX_PHDRS 64	  /* program headers looked at per object */
#define UW_MAX_SEGS  16	  /* PT_LOAD segments kept per object */

/* DWARF pointer encodings of .eh_frame_hdr (the LSB's DW_EH_PE_*). */
#define EH_PE_OMIT	     0xff
#define EH_PE_DATAREL_SDATA4 0x3b

/* One unwind call. */
struct uctx {
	struct proc *p;
	const struct user_regs_struct *regs;
	int may_refresh; /* @p is ours: read its maps again on a miss */
	int refreshed;
	int found;   /* find_proc_info found an FDE for the current frame */
	int unknown; /* ... or found the PC in no object at all */
};

/* What we know about one object (or the vDSO) of the current process. */
struct udesc {
	uintptr_t start, end; /* its mappings */
	uintptr_t bias;
	char *path;
	uint64_t inode; /* of the file; 0 for the vDSO */
	int ok;		/* a usable .eh_frame_hdr table */
	uintptr_t text_start, text_end;
	uintptr_t hdr;	     /* .eh_frame_hdr (the table's data-rel base) */
	uintptr_t table;     /* its binary search table */
	uintptr_t table_len; /* in unw_word_t units, as libunwind wants */
	uintptr_t eh_frame, eh_frame_end; /* .eh_frame, to its segment's end */
	struct {
		uintptr_t start, end;
		uint32_t flags;
	} segs[UW_MAX_SEGS];
	size_t nsegs;
};

/* A cached page of the target. */
struct upage {
	uintptr_t addr; /* 0: free */
	int persistent; /* of a read-only segment: valid until flushed */
	uint64_t call;	/* otherwise: valid only in this call */
	uint64_t used;
	unsigned char data[UW_PAGE];
};

static unw_addr_space_t uw_as;
static pid_t uw_pid; /* the process everything below belongs to */
static struct udesc *uw_descs;
static size_t uw_ndescs, uw_cap;
static struct upage uw_pages[UW_NPAGES];
static struct upage *uw_last; /* the last page used */
static uint64_t uw_call, uw_tick;
static struct {
	int looked;
	uintptr_t start, end, bias;
	Elf64_Phdr ph[UW_MAX_PHDRS];
	size_t nph;
} uw_vdso;

/* The view of unwind_remote()'s own process. */
static struct proc uw_own;
static int uw_own_open;

/*
 * Procedures whose FDE was found, sorted by start: a frame whose PC is in
 * one is known to have CFI without asking libunwind again (its
 * unw_get_proc_info() looks the table up and parses the FDE each time:
 * most of the instructions of an unwind whose steps hit its own cache).
 */
#define UW_MAX_FDES 4096
static struct stackcheck_range uw_fdes[UW_MAX_FDES];
static size_t uw_nfdes;

static int fde_known(uintptr_t ip)
{
	size_t i = stackcheck_count_le(uw_fdes, uw_nfdes, ip);

	return i && ip < uw_fdes[i - 1].end;
}

static void fde_add(uintptr_t start, uintptr_t end)
{
	size_t i = stackcheck_count_le(uw_fdes, uw_nfdes, start);

	if (start >= end || uw_nfdes == UW_MAX_FDES ||
	    (i && uw_fdes[i - 1].start == start))
		return;
	memmove(&uw_fdes[i + 1], &uw_fdes[i],
		(uw_nfdes - i) * sizeof(uw_fdes[0]));
	uw_fdes[i].start = start;
	uw_fdes[i].end = end;
	uw_fdes[i].name = NULL;
	uw_nfdes++;
}

static void fdes_drop(uintptr_t start, uintptr_t end)
{
	size_t k = 0;

	for (size_t i = 0; i < uw_nfdes; i++)
		if (uw_fdes[i].end <= start || uw_fdes[i].start >= end)
			uw_fdes[k++] = uw_fdes[i];
	uw_nfdes = k;
}

static void pages_drop(uintptr_t start, uintptr_t end)
{
	fdes_drop(start, end);
	for (size_t i = 0; i < UW_NPAGES; i++)
		if (uw_pages[i].addr && uw_pages[i].addr + UW_PAGE > start &&
		    uw_pages[i].addr < end)
			uw_pages[i].addr = 0;
	uw_last = NULL;
}

static void desc_free(struct udesc *d)
{
	free(d->path);
	d->path = NULL;
}

/**
 * unwind_flush() - forget everything cached about target processes
 */
void unwind_flush(void)
{
	for (size_t i = 0; i < uw_ndescs; i++)
		desc_free(&uw_descs[i]);
	uw_ndescs = 0;
	for (size_t i = 0; i < UW_NPAGES; i++)
		uw_pages[i].addr = 0;
	uw_last = NULL;
	uw_nfdes = 0;
	uw_vdso.looked = 0;
	if (uw_as)
		unw_flush_cache(uw_as, 0, 0);
}

/* Everything cached is about one process at a time. */
static void use_pid(pid_t pid)
{
	if (pid != uw_pid) {
		unwind_flush();
		uw_pid = pid;
	}
}

/* Can the page at @pg be kept between calls: inside a read-only (neither
 * writable nor executable) segment, touching no other segment. */
static int page_persistent(uintptr_t pg)
{
	for (size_t i = 0; i < uw_ndescs; i++) {
		struct udesc *d = &uw_descs[i];
		int ro = 0;

		if (pg + UW_PAGE <= d->start || pg >= d->end)
			continue;
		for (size_t k = 0; k < d->nsegs; k++) {
			if (pg + UW_PAGE <= d->segs[k].start ||
			    pg >= d->segs[k].end)
				continue;
			if (d->segs[k].flags & (PF_W | PF_X))
				return 0;
			ro = 1;
		}
		return ro;
	}
	return 0;
}

static int page_valid(const struct upage *u, uintptr_t pg)
{
	return u->addr == pg && (u->persistent || u->call == uw_call);
}

/* The cached page at @pg (4-way set associative), read on a miss. */
static struct upage *page_get(struct uctx *c, uintptr_t pg)
{
	struct upage *set, *victim = NULL;

	if (uw_last && page_valid(uw_last, pg))
		return uw_last;
	set = &uw_pages[((pg / UW_PAGE) % (UW_NPAGES / UW_WAYS)) * UW_WAYS];
	for (size_t i = 0; i < UW_WAYS; i++)
		if (page_valid(&set[i], pg)) {
			set[i].used = ++uw_tick;
			uw_last = &set[i];
			return uw_last;
		}
	for (size_t i = 0; i < UW_WAYS; i++) {
		struct upage *u = &set[i];

		/* Free or stale first, then the least recently used. */
		if (!u->addr || (!u->persistent && u->call != uw_call)) {
			victim = u;
			break;
		}
		if (!victim || u->used < victim->used)
			victim = u;
	}
	victim->addr = 0;
	if (victim == uw_last)
		uw_last = NULL;
	if (proc_read(c->p, pg, victim->data, UW_PAGE) < 0)
		return NULL;
	victim->addr = pg;
	victim->persistent = page_persistent(pg);
	victim->call = uw_call;
	victim->used = ++uw_tick;
	uw_last = victim;
	return victim;
}

/* Read target memory through the page cache (or directly if a page
 * cannot be read whole). */
static int mem_read(struct uctx *c, uintptr_t addr, void *buf, size_t len)
{
	unsigned char *out = buf;

	while (len) {
		uintptr_t pg = addr & ~(UW_PAGE - 1);
		size_t off = addr - pg;
		size_t k = UW_PAGE - off < len ? UW_PAGE - off : len;
		struct upage *u = page_get(c, pg);

		if (!u)
			return proc_read(c->p, addr, out, len);
		memcpy(out, u->data + off, k);
		out += k;
		addr += k;
		len -= k;
	}
	return 0;
}

/*
 * The vDSO of the current process (once per process): it has no file,
 * so its headers come from its image, found through AT_SYSINFO_EHDR.
 */
static int vdso_find(struct uctx *c)
{
	uint64_t av[2];
	Elf64_Ehdr eh;
	char path[64];
	uintptr_t base = 0, end = 0;
	int found = 0;
	FILE *f;

	if (uw_vdso.looked)
		return uw_vdso.end != 0;
	uw_vdso.looked = 1;
	uw_vdso.start = uw_vdso.end = 0;
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)c->p->pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fread(av, sizeof(av), 1, f) == 1 && av[0] != AT_NULL)
		if (av[0] == AT_SYSINFO_EHDR) {
			base = (uintptr_t)av[1];
			break;
		}
	fclose(f);
	if (!base || proc_read(c->p, base, &eh, sizeof(eh)) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_phnum ||
	    eh.e_phnum > UW_MAX_PHDRS ||
	    proc_read(c->p, base + eh.e_phoff, uw_vdso.ph,
		      eh.e_phnum * sizeof(uw_vdso.ph[0])) < 0)
		return 0;
	uw_vdso.nph = eh.e_phnum;
	for (size_t i = 0; i < uw_vdso.nph; i++) {
		const Elf64_Phdr *ph = &uw_vdso.ph[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (!ph->p_offset) {
			uw_vdso.bias = base - ph->p_vaddr;
			found = 1;
		}
	}
	if (!found)
		return 0;
	for (size_t i = 0; i < uw_vdso.nph; i++) {
		const Elf64_Phdr *ph = &uw_vdso.ph[i];

		if (ph->p_type == PT_LOAD &&
		    uw_vdso.bias + ph->p_vaddr + ph->p_memsz > end)
			end = uw_vdso.bias + ph->p_vaddr + ph->p_memsz;
	}
	uw_vdso.start = base;
	uw_vdso.end = (end + UW_PAGE - 1) & ~(UW_PAGE - 1);
	return 1;
}

static int enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: /* absptr */
	case 0x04: /* udata8 */
	case 0x0c: /* sdata8 */
		return 8;
	case 0x02: /* udata2 */
	case 0x0a: /* sdata2 */
		return 2;
	case 0x03: /* udata4 */
	case 0x0b: /* sdata4 */
		return 4;
	default:
		return -1;
	}
}

/* Fill @d (start, end, bias set) from its program headers: segments,
 * text, the .eh_frame_hdr table. */
static void desc_build(struct uctx *c, struct udesc *d, const Elf64_Phdr *ph,
		       size_t nph)
{
	uintptr_t hdr = 0;
	uint8_t h[4 + 16];
	uint64_t count = 0;
	int s1, s2;

	d->ok = 0;
	d->nsegs = 0;
	d->text_start = UINTPTR_MAX;
	d->text_end = 0;
	for (size_t i = 0; ph && i < nph; i++) {
		uintptr_t s = d->bias + ph[i].p_vaddr;
		uintptr_t e = s + ph[i].p_memsz;

		if (ph[i].p_type == PT_GNU_EH_FRAME)
			hdr = s;
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (d->nsegs == UW_MAX_SEGS)
			return;
		d->segs[d->nsegs].start = s;
		d->segs[d->nsegs].end = e;
		d->segs[d->nsegs].flags = ph[i].p_flags;
		d->nsegs++;
		if (ph[i].p_flags & PF_X) {
			if (s < d->text_start)
				d->text_start = s;
			if (e > d->text_end)
				d->text_end = e;
		}
	}
	if (!hdr || !d->text_end || proc_read(c->p, hdr, h, sizeof(h)) < 0)
		return;
	/* version, eh_frame_ptr_enc, fde_count_enc, table_enc */
	if (h[0] != 1 || h[2] == EH_PE_OMIT || h[3] != EH_PE_DATAREL_SDATA4)
		return;
	s1 = h[1] == EH_PE_OMIT ? 0 : enc_size(h[1]);
	s2 = enc_size(h[2]);
	if (s1 < 0 || s2 < 0)
		return;
	memcpy(&count, h + 4 + s1, (size_t)s2); /* little-endian */
	if ((h[2] & 0x08) && (count >> (8 * s2 - 1)) & 1)
		return; /* a negative count */
	if (!count)
		return;
	d->hdr = hdr;
	d->table = hdr + 4 + (uintptr_t)s1 + (uintptr_t)s2;
	/* .eh_frame: eh_frame_ptr, pc-relative sdata4 as every linker
	 * writes it; its end is not recorded: that of its segment. */
	if (h[1] == 0x1b) {
		int32_t rel;

		memcpy(&rel, h + 4, sizeof(rel));
		d->eh_frame = hdr + 4 + (uintptr_t)(intptr_t)rel;
		for (size_t k = 0; k < d->nsegs; k++)
			if (d->eh_frame >= d->segs[k].start &&
			    d->eh_frame < d->segs[k].end)
				d->eh_frame_end = d->segs[k].end;
		if (!d->eh_frame_end)
			d->eh_frame = 0;
	}
	/* two 32-bit words per entry */
	d->table_len = count * 8 / sizeof(unw_word_t);
	d->ok = 1;
}

/* The descriptor of the object holding @ip, built on first use. */
static struct udesc *desc_for(struct uctx *c, uintptr_t ip)
{
	const Elf64_Phdr *ph;
	struct proc_obj *o;
	uintptr_t start, end, bias;
	uint64_t inode = 0;
	const char *path;
	struct udesc *d;
	size_t nph;

again:
	o = proc_obj_at(c->p, ip);
	if (o) {
		start = o->start;
		end = o->end;
		bias = o->bias;
		path = o->path ? o->path : "";
		inode = o->inode;
		ph = o->phdrs;
		nph = o->nphdrs;
	} else if (vdso_find(c) && ip >= uw_vdso.start && ip < uw_vdso.end) {
		start = uw_vdso.start;
		end = uw_vdso.end;
		bias = uw_vdso.bias;
		path = "[vdso]";
		ph = uw_vdso.ph;
		nph = uw_vdso.nph;
	} else if (c->may_refresh && !c->refreshed) {
		c->refreshed = 1;
		if (proc_refresh(c->p) < 0)
			return NULL;
		goto again;
	} else {
		c->unknown = 1;
		return NULL;
	}
	for (size_t i = 0; i < uw_ndescs; i++) {
		d = &uw_descs[i];
		if (d->start == start && d->end == end && d->bias == bias &&
		    d->inode == inode && !strcmp(d->path, path))
			return d;
	}
	/* Something else is mapped there now: forget what overlaps. */
	for (size_t i = 0; i < uw_ndescs;) {
		d = &uw_descs[i];
		if (d->start < end && start < d->end) {
			pages_drop(d->start, d->end);
			unw_flush_cache(uw_as, 0, 0);
			desc_free(d);
			uw_descs[i] = uw_descs[--uw_ndescs];
		} else {
			i++;
		}
	}
	if (uw_ndescs == uw_cap) {
		size_t cap = uw_cap ? uw_cap * 2 : 32;
		struct udesc *n = realloc(uw_descs, cap * sizeof(*n));

		if (!n)
			return NULL;
		uw_descs = n;
		uw_cap = cap;
	}
	d = &uw_descs[uw_ndescs];
	memset(d, 0, sizeof(*d));
	d->path = strdup(path);
	if (!d->path)
		return NULL;
	d->start = start;
	d->end = end;
	d->bias = bias;
	d->inode = inode;
	desc_build(c, d, ph, nph);
	uw_ndescs++;
	return d;
}

/* ---- libunwind accessors ---- */

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip,
			      unw_proc_info_t *pi, int need_unwind_info,
			      void *arg)
{
	struct uctx *c = arg;
	struct udesc *d = desc_for(c, ip);
	unw_dyn_info_t di;
	int ret;

	if (!d || !d->ok || ip < d->text_start || ip >= d->text_end)
		return -UNW_ENOINFO;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = d->text_start;
	di.end_ip = d->text_end;
	di.u.rti.segbase = d->hdr;
	di.u.rti.table_data = d->table;
	di.u.rti.table_len = d->table_len;
	ret = UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi,
						 need_unwind_info, arg);
	if (ret >= 0) {
		c->found = 1;
		fde_add((uintptr_t)pi->start_ip, (uintptr_t)pi->end_ip);
	}
	return ret;
}

static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi,
				void *arg)
{
	/* Table-format info is released by libunwind itself. */
}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dil,
				      void *arg)
{
	return -UNW_ENOINFO;
}

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val,
			  int write, void *arg)
{
	if (write)
		return -UNW_EINVAL;
	if (mem_read(arg, addr, val, sizeof(*val)) < 0)
		return -UNW_EINVAL;
	return 0;
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg,
			  unw_word_t *val, int write, void *arg)
{
	const struct user_regs_struct *r = ((struct uctx *)arg)->regs;

	if (write)
		return -UNW_EREADONLYREG;
	switch (reg) {
	case UNW_X86_64_RAX:
		*val = r->rax;
		break;
	case UNW_X86_64_RDX:
		*val = r->rdx;
		break;
	case UNW_X86_64_RCX:
		*val = r->rcx;
		break;
	case UNW_X86_64_RBX:
		*val = r->rbx;
		break;
	case UNW_X86_64_RSI:
		*val = r->rsi;
		break;
	case UNW_X86_64_RDI:
		*val = r->rdi;
		break;
	case UNW_X86_64_RBP:
		*val = r->rbp;
		break;
	case UNW_X86_64_RSP:
		*val = r->rsp;
		break;
	case UNW_X86_64_R8:
		*val = r->r8;
		break;
	case UNW_X86_64_R9:
		*val = r->r9;
		break;
	case UNW_X86_64_R10:
		*val = r->r10;
		break;
	case UNW_X86_64_R11:
		*val = r->r11;
		break;
	case UNW_X86_64_R12:
		*val = r->r12;
		break;
	case UNW_X86_64_R13:
		*val = r->r13;
		break;
	case UNW_X86_64_R14:
		*val = r->r14;
		break;
	case UNW_X86_64_R15:
		*val = r->r15;
		break;
	case UNW_X86_64_RIP:
		*val = r->rip;
		break;
	default:
		return -UNW_EBADREG;
	}
	return 0;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg,
			    unw_fpreg_t *val, int write, void *arg)
{
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	return -UNW_EINVAL;
}

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf,
			     size_t len, unw_word_t *off, void *arg)
{
	return -UNW_ENOINFO;
}

static unw_accessors_t uw_accessors = {
    .find_proc_info = acc_find_proc_info,
    .put_unwind_info = acc_put_unwind_info,
    .get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
    .access_mem = acc_access_mem,
    .access_reg = acc_access_reg,
    .access_fpreg = acc_access_fpreg,
    .resume = acc_resume,
    .get_proc_name = acc_get_proc_name,
};

/* ---- the walk ---- */

/* The address space (libunwind's first use costs ~0.5 ms) and what we
 * know of @c's process. */
static int setup(struct uctx *c)
{
	if (!uw_as) {
		uw_as = unw_create_addr_space(&uw_accessors, 0);
		if (!uw_as)
			return -ENOMEM;
		/* The tool has one thread: no lock around libunwind's
		 * cache (each lock blocked and unblocked all signals: 60
		 * sigprocmask calls in one stop's unwind, 44 now). */
		unw_set_caching_policy(uw_as, UNW_CACHE_PER_THREAD);
	}
	use_pid(c->p->pid);
	return 0;
}

/* Set once libunwind ran its first unwind in this process. */
static int warmed;

/*
 * One unwind that goes nowhere (from the first instruction of @d's text,
 * its "stack" being the table's own page), for libunwind's first-use work:
 * the first real unwind took 150 us, the same one again 30 us.
 */
static void warm_up(struct proc *p, const struct udesc *d)
{
	struct user_regs_struct regs;
	uintptr_t pcs[4];
	size_t n;

	memset(&regs, 0, sizeof(regs));
	regs.rip = d->text_start;
	regs.rsp = d->hdr & ~(UW_PAGE - 1);
	unwind_remote_regs(p, &regs, pcs, 4, &n);
	warmed = 1;
}

/* Read the pages [@start, @end) into the cache (read-only ones stay). */
static void prefetch(struct uctx *c, uintptr_t start, uintptr_t end,
		     size_t *budget)
{
	for (uintptr_t pg = start & ~(UW_PAGE - 1); pg < end && *budget;
	     pg += UW_PAGE, (*budget)--)
		if (!page_get(c, pg))
			break;
}

/**
 * unwind_prepare() - do the one-time work before any thread is stopped
 * @p:	the view of the process about to be unwound
 *
 * Besides the objects' descriptors, the unwind tables themselves are read
 * now (.eh_frame_hdr and .eh_frame, up to UW_PREFETCH pages; they are kept
 * between calls): the first unwind read them while its thread was stopped,
 * 350-400 us of a 500 us stop (libc alone: 46 pages).
 *
 * Return: 0 or -ENOMEM.
 */
int unwind_prepare(struct proc *p)
{
	struct uctx c = {.p = p};
	size_t budget = UW_PREFETCH;
	int ret = setup(&c);

	if (ret < 0)
		return ret;
	uw_call++;
	for (size_t i = 0; i < p->nobjs; i++) {
		struct udesc *d;

		if (!p->objs[i].text_start)
			continue;
		d = desc_for(&c, p->objs[i].text_start);
		if (!d || !d->ok)
			continue;
		prefetch(&c, d->hdr,
			 d->table + d->table_len * sizeof(unw_word_t), &budget);
		if (d->eh_frame)
			prefetch(&c, d->eh_frame, d->eh_frame_end, &budget);
		if (!warmed)
			warm_up(p, d);
	}
	return 0;
}

static int walk(struct uctx *c, uintptr_t *pcs, size_t max, size_t *n)
{
	unw_cursor_t cur;
	size_t k = 0;
	int ret = setup(c);

	if (ret < 0)
		return ret;
	uw_call++;
	*n = 0;
	if (unw_init_remote(&cur, uw_as, c) < 0)
		return -EAGAIN;
	for (;;) {
		unw_proc_info_t pi;
		unw_word_t ip;
		int r;

		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0)
			return -EAGAIN;
		/* A frame with no unwind info was guessed, not known. A
		 * return address is looked up at ip - 1 (and is sometimes
		 * the end of its procedure): both known, or ask. */
		c->found = 0;
		c->unknown = 0;
		if (!(fde_known(ip) && (!k || fde_known(ip - 1))) &&
		    (unw_get_proc_info(&cur, &pi) < 0 || !c->found))
			return c->unknown ? -ENOENT : -EAGAIN;
		if (k == max)
			return -EAGAIN;
		pcs[k++] = (uintptr_t)ip;
		r = unw_step(&cur);
		if (r == 0)
			break; /* the outermost frame: RIP undefined in CFI */
		if (r < 0)
			return -EAGAIN;
	}
	*n = k;
	return 0;
}

/**
 * unwind_remote_regs() - unwind a stopped thread from known registers
 * @p:		the view of the thread's process
 * @regs:	the thread's registers
 * @pcs:	out: program counters, frame 0 (the current PC) first
 * @max:	room in @pcs
 * @n:		out: frames stored
 *
 * Return: 0 when reliable, -ENOENT (a PC in no object of @p), -EAGAIN
 * (otherwise unreliable), or -errno.
 */
int unwind_remote_regs(struct proc *p, const struct user_regs_struct *regs,
		       uintptr_t *pcs, size_t max, size_t *n)
{
	struct uctx c = {.p = p, .regs = regs};

	return walk(&c, pcs, max, n);
}

/* The process a thread belongs to. */
static pid_t tgid_of(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = -ESRCH;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/**
 * unwind_remote() - unwind a stopped thread of another process
 * @tid:	the thread, stopped by the caller
 * @pcs:	out: program counters, frame 0 (the current PC) first
 * @max:	room in @pcs
 * @n:		out: frames stored
 *
 * Return: 0 when reliable, -EAGAIN when not, or -errno.
 */
int unwind_remote(pid_t tid, uintptr_t *pcs, size_t max, size_t *n)
{
	struct user_regs_struct regs;
	struct uctx c = {.regs = &regs, .may_refresh = 1};
	pid_t tgid;
	int ret;

	*n = 0;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return -errno;
	tgid = tgid_of(tid);
	if (tgid < 0)
		return tgid;
	if (!uw_own_open || uw_own.pid != tgid) {
		if (uw_own_open)
			proc_close(&uw_own);
		uw_own_open = 0;
		ret = proc_open(tgid, &uw_own);
		if (ret < 0)
			return ret;
		uw_own_open = 1;
	}
	c.p = &uw_own;
	ret = walk(&c, pcs, max, n);
	return ret == -ENOENT ? -EAGAIN : ret;
}
