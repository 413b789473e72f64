// SPDX-License-Identifier: MIT
/*
 * patchdesc.c - the klp_objects of a patch file, read statically: the
 * descriptor uklp_patch_desc -> klp_patch -> klp_object[] -> names and
 * build-ids, following pointers as the dynamic loader would relocate them.
 * The patch is built for x86-64 like this tool, so the structures of
 * <uklp/livepatch.h> give the layout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include <uklp/livepatch.h>

#include "patchdesc.h"

/* Longest name or build-id string read, and most objects of a patch. */
#define STR_MAX	 4096
#define OBJS_MAX 4096

struct reloc {
	uint64_t offset;
	uint32_t type;
	int64_t addend;
	int sym_defined; /* R_X86_64_64: its symbol is defined in the file */
	uint64_t sym_value;
};

struct image {
	const char *file; /* the whole file (libelf's mapping) */
	size_t size;
	GElf_Phdr *loads; /* PT_LOAD segments */
	size_t nloads;
	struct reloc *relocs;
	size_t nrelocs;
	char *why;
	size_t whylen;
};

static int bad(struct image *im, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bad(struct image *im, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(im->why, im->whylen, fmt, ap);
	va_end(ap);
	return -ENOEXEC;
}

/* Copy @len bytes at link-time address @addr (one PT_LOAD segment). */
static int read_at(struct image *im, uint64_t addr, void *buf, size_t len)
{
	for (size_t i = 0; i < im->nloads; i++) {
		const GElf_Phdr *ph = &im->loads[i];
		uint64_t off, infile;

		if (addr < ph->p_vaddr || addr - ph->p_vaddr > ph->p_memsz ||
		    len > ph->p_memsz - (addr - ph->p_vaddr))
			continue;
		off = addr - ph->p_vaddr;
		infile = off < ph->p_filesz ? ph->p_filesz - off : 0;
		if (infile > len)
			infile = len;
		if (infile && (ph->p_offset + off > im->size ||
			       infile > im->size - (ph->p_offset + off)))
			return -ENOEXEC;
		memcpy(buf, im->file + ph->p_offset + off, infile);
		memset((char *)buf + infile, 0, len - infile);
		return 0;
	}
	return -ENOEXEC;
}

/* The pointer stored at @addr once the loader has relocated it. */
static int read_ptr(struct image *im, uint64_t addr, uint64_t *out)
{
	for (size_t i = 0; i < im->nrelocs; i++) {
		const struct reloc *r = &im->relocs[i];

		if (r->offset != addr)
			continue;
		switch (r->type) {
		case R_X86_64_RELATIVE:
			*out = (uint64_t)r->addend;
			return 0;
		case R_X86_64_64:
			if (!r->sym_defined)
				return -ENOEXEC; /* points outside the patch */
			*out = r->sym_value + (uint64_t)r->addend;
			return 0;
		default:
			return -ENOEXEC;
		}
	}
	/* No RELA entry: the value in place (RELR addends, or no pointer). */
	return read_at(im, addr, out, sizeof(*out));
}

/* A NUL-terminated string at @addr, malloc'ed. */
static int read_str(struct image *im, uint64_t addr, char **out)
{
	char buf[STR_MAX];

	for (size_t i = 0; i < sizeof(buf); i++) {
		if (read_at(im, addr + i, &buf[i], 1))
			return -ENOEXEC;
		if (!buf[i]) {
			*out = strdup(buf);
			return *out ? 0 : -ENOMEM;
		}
	}
	return -ENOEXEC;
}

static int load_image(Elf *elf, struct image *im)
{
	Elf_Scn *scn = NULL;
	size_t nph, n = 0;
	GElf_Shdr shdr;

	im->file = elf_rawfile(elf, &im->size);
	if (!im->file || elf_getphdrnum(elf, &nph))
		return -ENOEXEC;
	im->loads = calloc(nph ? nph : 1, sizeof(*im->loads));
	if (!im->loads)
		return -ENOMEM;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
			im->loads[im->nloads++] = ph;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data, *symdata = NULL;
		Elf_Scn *symscn;
		struct reloc *nr;
		size_t cnt;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_RELA ||
		    !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		symscn = elf_getscn(elf, shdr.sh_link);
		if (symscn)
			symdata = elf_getdata(symscn, NULL);
		cnt = data->d_size / shdr.sh_entsize;
		nr = realloc(im->relocs, (n + cnt + 1) * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		im->relocs = nr;
		for (size_t i = 0; i < cnt; i++) {
			struct reloc *r = &im->relocs[n];
			GElf_Rela rela;
			GElf_Sym sym;

			if (!gelf_getrela(data, (int)i, &rela))
				continue;
			memset(r, 0, sizeof(*r));
			r->offset = rela.r_offset;
			r->type = (uint32_t)GELF_R_TYPE(rela.r_info);
			r->addend = rela.r_addend;
			if (r->type == R_X86_64_64 && symdata &&
			    gelf_getsym(symdata, (int)GELF_R_SYM(rela.r_info),
					&sym) &&
			    sym.st_shndx != SHN_UNDEF) {
				r->sym_defined = 1;
				r->sym_value = sym.st_value;
			}
			n++;
		}
		im->nrelocs = n;
	}
	return 0;
}

static int read_objects(struct image *im, uint64_t desc_addr,
			struct patchdesc *pd)
{
	struct uklp_patch_desc desc;
	uint64_t patch, objs, funcs, p;
	int ret;

	if (read_at(im, desc_addr, &desc,
		    offsetof(struct uklp_patch_desc, patch)))
		return bad(im, "%s is outside the file's segments",
			   UKLP_PATCH_SYMBOL);
	if (desc.magic != UKLP_PATCH_MAGIC)
		return bad(im, "%s is not a KLP_PATCH() descriptor (magic %#x)",
			   UKLP_PATCH_SYMBOL, desc.magic);
	if (desc.abi != UKLP_ABI_VERSION)
		return bad(im, "built for patch ABI %u, this uklp has %u",
			   desc.abi, UKLP_ABI_VERSION);
	if (read_ptr(im, desc_addr + offsetof(struct uklp_patch_desc, patch),
		     &patch) ||
	    !patch)
		return bad(im, "its descriptor names no klp_patch");
	if (read_ptr(im, patch + offsetof(struct klp_patch, objs), &objs) ||
	    !objs)
		return bad(im, "its klp_patch has no objects");
	for (size_t i = 0;; i++) {
		uint64_t o = objs + i * sizeof(struct klp_object);
		struct patchdesc_obj *no, *d;

		if (i == OBJS_MAX)
			return bad(im, "its object list has no end");
		if (read_ptr(im, o + offsetof(struct klp_object, funcs),
			     &funcs))
			return bad(im, "cannot read its klp_object %zu", i);
		if (!funcs)
			break;
		no = realloc(pd->objs, (pd->nobjs + 1) * sizeof(*no));
		if (!no)
			return -ENOMEM;
		pd->objs = no;
		d = &pd->objs[pd->nobjs++];
		memset(d, 0, sizeof(*d));
		if (read_ptr(im, o + offsetof(struct klp_object, name), &p))
			return bad(im, "cannot read the name of klp_object %zu",
				   i);
		if (p && (ret = read_str(im, p, &d->name)))
			return ret == -ENOMEM ? ret
					      : bad(im,
						    "cannot read the name of "
						    "klp_object %zu",
						    i);
		if (read_ptr(im, o + offsetof(struct klp_object, build_id), &p))
			return bad(im,
				   "cannot read the build-id of klp_object %zu",
				   i);
		if (p && (ret = read_str(im, p, &d->build_id)))
			return ret == -ENOMEM ? ret
					      : bad(im,
						    "cannot read the build-id "
						    "of klp_object %zu",
						    i);
		/* An empty build-id pins nothing (the runtime's rule). */
		if (d->build_id && !*d->build_id) {
			free(d->build_id);
			d->build_id = NULL;
		}
	}
	if (!pd->nobjs)
		return bad(im, "its klp_patch has no objects");
	return 0;
}

/**
 * patchdesc_read() - read the klp_objects of a patch file
 * @path:	the patch
 * @desc_addr:	link-time address of its uklp_patch_desc
 * @pd:		out; release with patchdesc_free()
 * @why:	out: on -ENOEXEC, what is wrong
 * @whylen:	size of @why
 *
 * Return: 0, -ENOEXEC, -ENOMEM or -errno.
 */
int patchdesc_read(const char *path, uint64_t desc_addr, struct patchdesc *pd,
		   char *why, size_t whylen)
{
	struct image im = {.why = why, .whylen = whylen};
	Elf *elf;
	int fd, ret;

	memset(pd, 0, sizeof(*pd));
	if (whylen)
		why[0] = '\0';
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		ret = bad(&im, "not an ELF file");
		goto out_fd;
	}
	ret = load_image(elf, &im);
	if (ret == -ENOEXEC)
		bad(&im, "cannot read its segments");
	if (!ret)
		ret = read_objects(&im, desc_addr, pd);
	if (ret)
		patchdesc_free(pd);
	free(im.relocs);
	free(im.loads);
	elf_end(elf);
out_fd:
	close(fd);
	return ret;
}

/**
 * patchdesc_free() - release what patchdesc_read() allocated
 * @pd:	the description (zeroed)
 */
void patchdesc_free(struct patchdesc *pd)
{
	for (size_t i = 0; i < pd->nobjs; i++) {
		free(pd->objs[i].name);
		free(pd->objs[i].build_id);
	}
	free(pd->objs);
	memset(pd, 0, sizeof(*pd));
}
