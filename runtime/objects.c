// SPDX-License-Identifier: MIT
/*
 * objects.c - loaded objects, from dl_iterate_phdr().
 */
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objects.h"

static struct uklp_obj *objs;
static unsigned long elf_reads;
static unsigned long scan_gen;

struct scan_ctx {
	struct uklp_obj **added;
	size_t nadded, cap;
	int err;
};

static int push(struct uklp_obj ***v, size_t *n, size_t *cap,
		struct uklp_obj *o)
{
	if (*n + 2 > *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct uklp_obj **nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = o;
	(*v)[*n] = NULL;
	return 0;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan_ctx *ctx = arg;
	const char *nm = info->dlpi_name ? info->dlpi_name : "";
	int is_main = !objs && !*nm; /* the first object is the executable */
	uintptr_t start = ~0UL, end = 0;
	struct uklp_obj *o;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < start)
			start = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > end)
			end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (!end)
		return 0;
	for (o = objs; o; o = o->next) {
		if (o->start == start && o->base == info->dlpi_addr &&
		    !o->going) {
			o->seen = scan_gen;
			return 0;
		}
	}
	/* The vDSO and objects without a file have nothing to patch. */
	if (*nm != '/' && !(is_main || (!*nm && start)))
		return 0;
	if (!*nm && !is_main) {
		/* only the main executable has an empty name */
		int any_main = 0;

		for (o = objs; o; o = o->next)
			any_main |= o->is_main;
		if (any_main)
			return 0;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		ctx->err = -ENOMEM;
		return 1;
	}
	if (*nm) {
		o->path = strdup(nm);
	} else {
		char buf[4096];
		ssize_t l = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

		if (l < 0)
			l = 0;
		buf[l] = '\0';
		o->path = strdup(buf);
		o->is_main = 1;
	}
	if (!o->path) {
		free(o);
		ctx->err = -ENOMEM;
		return 1;
	}
	o->name = strrchr(o->path, '/') ? strrchr(o->path, '/') + 1 : o->path;
	o->base = info->dlpi_addr;
	o->start = start;
	o->end = end;
	o->seen = scan_gen;
	/* keep load order: append */
	struct uklp_obj **pp = &objs;

	while (*pp)
		pp = &(*pp)->next;
	*pp = o;
	if (push(&ctx->added, &ctx->nadded, &ctx->cap, o) < 0) {
		ctx->err = -ENOMEM;
		return 1;
	}
	return 0;
}

int objects_scan(struct uklp_obj ***added, struct uklp_obj ***removed)
{
	struct scan_ctx ctx = {0};
	struct uklp_obj **rm = NULL;
	size_t nrm = 0, caprm = 0;

	scan_gen++;
	dl_iterate_phdr(scan_one, &ctx);
	if (ctx.err) {
		free(ctx.added);
		return ctx.err;
	}
	for (struct uklp_obj *o = objs; o; o = o->next) {
		if (o->seen != scan_gen && !o->going) {
			o->going = 1;
			if (push(&rm, &nrm, &caprm, o) < 0) {
				free(ctx.added);
				free(rm);
				return -ENOMEM;
			}
		}
	}
	if (added)
		*added = ctx.added;
	else
		free(ctx.added);
	if (removed)
		*removed = rm;
	else
		free(rm);
	return 0;
}

int objects_matches(struct uklp_obj *o, const char *name)
{
	struct elfsym_file *f;

	if (o->going)
		return 0;
	if (!name)
		return o->is_main;
	if (!strcmp(o->name, name))
		return 1;
	f = objects_elf(o);
	return f && f->soname && !strcmp(f->soname, name);
}

struct uklp_obj *objects_find(const char *name)
{
	for (struct uklp_obj *o = objs; o; o = o->next)
		if (objects_matches(o, name))
			return o;
	return NULL;
}

struct uklp_obj *objects_find_addr(uintptr_t addr)
{
	for (struct uklp_obj *o = objs; o; o = o->next)
		if (!o->going && addr >= o->start && addr < o->end)
			return o;
	return NULL;
}

struct elfsym_file *objects_elf(struct uklp_obj *o)
{
	if (o->elf_loaded)
		return &o->elf;
	if (o->elf_err)
		return NULL;
	o->elf_err = elfsym_open(o->path, &o->elf);
	if (o->elf_err)
		return NULL;
	o->elf_loaded = 1;
	o->elf_seq = ++elf_reads;
	return &o->elf;
}

unsigned long objects_elf_mark(void)
{
	return elf_reads;
}

void objects_elf_release(unsigned long mark)
{
	for (struct uklp_obj *o = objs; o; o = o->next) {
		if (o->elf_loaded && o->elf_seq > mark) {
			elfsym_close(&o->elf);
			o->elf_loaded = 0;
		}
	}
}

void objects_forget(struct uklp_obj *o)
{
	for (struct uklp_obj **pp = &objs; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	if (o->elf_loaded)
		elfsym_close(&o->elf);
	free(o->path);
	free(o);
}
