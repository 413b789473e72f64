// SPDX-License-Identifier: MIT
/*
 * elfsym - ELF symbol tables of loaded objects, read with elfutils libelf.
 *
 * Everything is copied out of the file in elfsym_open(): the Elf handle and
 * the file descriptor are released before it returns. There is no global
 * state besides libelf's own version setting, so separate elfsym_file
 * objects may be used from separate threads, and a single one may be read
 * (lookup, find_addr) from several threads at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "elfsym.h"

#define PFE_SECTION    "__patchable_function_entries"
#define MCOUNT_SECTION "__mcount_loc"

/* One entry of the by-name index: symbols sorted by (name, table order). */
struct elfsym_name_ent {
	const char *name;
	uint64_t value;
	size_t idx; /* index into elfsym_file.syms */
};

/* One entry of the by-address index: symbols sorted by (value, order). */
struct elfsym_addr_ent {
	uint64_t value;
	uint64_t end; /* value + size, or value + 1 for size 0 */
	size_t idx;
	int prio; /* 0: FUNC/IFUNC, 1: OBJECT, 2: NOTYPE */
};

struct elfsym_priv {
	char *strings; /* all symbol names, NUL-separated */
	/*
	 * Distinct symbols by name: of several entries with the same name and
	 * value (aliases, versioned .dynsym entries) only the first is kept.
	 */
	struct elfsym_name_ent *by_name;
	size_t nby_name;
	struct elfsym_addr_ent *by_addr;
	/* maxend[i]: largest end of by_addr[0..i], to bound the search */
	uint64_t *maxend;
	size_t nby_addr;
};

/* Sections found by scan_sections(). */
struct elfsym_scn {
	Elf_Scn *symtab;
	Elf_Scn *dynsym;
	Elf_Scn *dynamic;
};

static bool keep_type(unsigned char type)
{
	switch (type) {
	case STT_FUNC:
	case STT_GNU_IFUNC:
	case STT_OBJECT:
	case STT_TLS:
	case STT_NOTYPE:
		return true;
	default:
		return false;
	}
}

static int sym_count(Elf *elf, Elf_Data *data, size_t *n)
{
	size_t esz = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);

	if (!esz)
		return -EIO;
	*n = data->d_size / esz;
	return 0;
}

/* The name of symbol @i if the symbol is kept, else NULL. */
static const char *kept_sym(Elf *elf, Elf_Data *data, size_t strndx, size_t i,
			    GElf_Sym *sym)
{
	const char *name;

	if (!gelf_getsym(data, (int)i, sym))
		return NULL;
	if (sym->st_shndx == SHN_UNDEF || sym->st_shndx == SHN_ABS)
		return NULL;
	if (!keep_type(GELF_ST_TYPE(sym->st_info)))
		return NULL;
	if (!sym->st_name)
		return NULL;
	name = elf_strptr(elf, strndx, sym->st_name);
	if (!name || !name[0])
		return NULL;
	return name;
}

/*
 * The length of a symbol's name as kept. In a .symtab (a debug file's, an
 * unstripped library's), the default version of a versioned definition is
 * named "foo@@VERSION": kept as "foo", the name .dynsym and dlsym() give it
 * (gdb does the same). Other versions ("foo@VERSION") keep their suffix.
 */
static size_t kept_name_len(const char *name)
{
	const char *at = strstr(name, "@@");

	return at && at != name ? (size_t)(at - name) : strlen(name);
}

static int read_symbols(Elf *elf, Elf_Scn *scn, struct elfsym_file *f,
			struct elfsym_priv *p)
{
	GElf_Shdr shdr;
	Elf_Data *data;
	GElf_Sym sym;
	size_t n, i, total = 0, nkeep = 0, off = 0;
	const char *name;
	int err;

	if (!gelf_getshdr(scn, &shdr))
		return -EIO;
	data = elf_getdata(scn, NULL);
	if (!data)
		return -EIO;
	err = sym_count(elf, data, &n);
	if (err)
		return err;

	/* Index 0 is the reserved null symbol. */
	for (i = 1; i < n; i++) {
		name = kept_sym(elf, data, shdr.sh_link, i, &sym);
		if (!name)
			continue;
		total += kept_name_len(name) + 1;
		nkeep++;
	}
	if (!nkeep)
		return 0;

	p->strings = malloc(total);
	f->syms = calloc(nkeep, sizeof(*f->syms));
	if (!p->strings || !f->syms)
		return -ENOMEM;

	for (i = 1; i < n && f->nsyms < nkeep; i++) {
		struct elfsym_sym *s;
		size_t len;

		name = kept_sym(elf, data, shdr.sh_link, i, &sym);
		if (!name)
			continue;
		len = kept_name_len(name);
		if (off + len + 1 > total)
			return -EIO;
		memcpy(p->strings + off, name, len);
		p->strings[off + len++] = '\0';
		s = &f->syms[f->nsyms++];
		s->name = p->strings + off;
		s->value = sym.st_value;
		s->size = sym.st_size;
		s->type = GELF_ST_TYPE(sym.st_info);
		s->bind = GELF_ST_BIND(sym.st_info);
		off += len;
	}
	return 0;
}

static void read_soname(Elf *elf, Elf_Scn *scn, struct elfsym_file *f)
{
	GElf_Shdr shdr;
	Elf_Data *data;
	GElf_Dyn dyn;
	size_t i, n;
	const char *name;

	if (!gelf_getshdr(scn, &shdr) || !shdr.sh_entsize)
		return;
	data = elf_getdata(scn, NULL);
	if (!data)
		return;
	n = data->d_size / shdr.sh_entsize;
	for (i = 0; i < n; i++) {
		if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			return;
		if (dyn.d_tag != DT_SONAME)
			continue;
		name = elf_strptr(elf, shdr.sh_link, dyn.d_un.d_val);
		if (name)
			f->soname = strdup(name);
		return;
	}
}

/*
 * Look for NT_GNU_BUILD_ID in one block of notes and write it in lowercase
 * hex to @out (@outlen bytes, at least 3). Return: 1 when found.
 */
static int build_id_in_notes(Elf_Data *data, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t off = 0, next, name_off, desc_off, i, len;
	const unsigned char *desc;
	GElf_Nhdr nhdr;

	while (off < data->d_size) {
		next = gelf_getnote(data, off, &nhdr, &name_off, &desc_off);
		if (!next)
			break;
		off = next;
		if (nhdr.n_type != NT_GNU_BUILD_ID || nhdr.n_namesz != 4 ||
		    memcmp((const char *)data->d_buf + name_off, "GNU", 4))
			continue;
		desc = (const unsigned char *)data->d_buf + desc_off;
		len = nhdr.n_descsz;
		if (len > (outlen - 1) / 2)
			len = (outlen - 1) / 2;
		for (i = 0; i < len; i++) {
			out[2 * i] = hex[desc[i] >> 4];
			out[2 * i + 1] = hex[desc[i] & 0xf];
		}
		out[2 * len] = '\0';
		return 1;
	}
	return 0;
}

/* The file's build-id in hex into @out, or "" when it has none. */
static void read_build_id(Elf *elf, char *out, size_t outlen)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	GElf_Phdr phdr;
	Elf_Data *data;
	size_t nscn = 0, nph = 0, i;

	out[0] = '\0';
	if (elf_getshdrnum(elf, &nscn))
		nscn = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (data && build_id_in_notes(data, out, outlen))
			return;
	}
	if (nscn > 1 || elf_getphdrnum(elf, &nph))
		return;
	for (i = 0; i < nph; i++) {
		if (!gelf_getphdr(elf, (int)i, &phdr) || phdr.p_type != PT_NOTE)
			continue;
		data = elf_getdata_rawchunk(elf, phdr.p_offset, phdr.p_filesz,
					    phdr.p_align == 8 ? ELF_T_NHDR8
							      : ELF_T_NHDR);
		if (data && build_id_in_notes(data, out, outlen))
			return;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Fill the zero entries of an address list at @addr (a section loaded at
 * that link-time address) from R_X86_64_RELATIVE relocations: linkers that
 * do not write addends in place (lld without --apply-dynamic-relocs) leave
 * the section zeroed.
 */
static void apply_relative(Elf *elf, uint64_t addr, uint64_t *list, size_t n)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	GElf_Rela rela;
	Elf_Data *data;
	size_t i, nrel;
	uint64_t k;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_RELA ||
		    !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		nrel = data->d_size / shdr.sh_entsize;
		for (i = 0; i < nrel; i++) {
			if (!gelf_getrela(data, (int)i, &rela) ||
			    GELF_R_TYPE(rela.r_info) != R_X86_64_RELATIVE ||
			    rela.r_offset < addr || (rela.r_offset - addr) % 8)
				continue;
			k = (rela.r_offset - addr) / 8;
			if (k < n && !list[k])
				list[k] = (uint64_t)rela.r_addend;
		}
	}
}

/*
 * Gather the 8-byte entries of every section named @secname, sorted and
 * without duplicates. Zero entries (discarded functions) are dropped.
 * @rel_elf holds the relocations (the file itself, also when @elf is its
 * debug file, where they have no contents).
 */
static int read_addr_list(Elf *elf, Elf *rel_elf, size_t shstrndx,
			  const char *secname, uint64_t **out, size_t *nout)
{
	uint64_t *list = NULL, *tmp;
	size_t n = 0, cnt, i, j, zeros;
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	Elf_Data *data;
	const char *name;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!name || strcmp(name, secname))
			continue;
		data = elf_rawdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		cnt = data->d_size / 8;
		if (!cnt)
			continue;
		tmp = realloc(list, (n + cnt) * sizeof(*list));
		if (!tmp) {
			free(list);
			return -ENOMEM;
		}
		list = tmp;
		/* check_header() made sure the file is little-endian. */
		memcpy(list + n, data->d_buf, cnt * 8);
		for (i = zeros = 0; i < cnt; i++)
			zeros += !list[n + i];
		if (zeros && shdr.sh_addr)
			apply_relative(rel_elf, shdr.sh_addr, list + n, cnt);
		n += cnt;
	}
	if (!n) {
		free(list);
		return 0;
	}
	qsort(list, n, sizeof(*list), cmp_u64);
	for (i = j = 0; i < n; i++) {
		if (!list[i] || (j && list[j - 1] == list[i]))
			continue;
		list[j++] = list[i];
	}
	if (!j) {
		free(list);
		return 0;
	}
	*out = list;
	*nout = j;
	return 0;
}

static int cmp_name_value(const void *a, const void *b)
{
	const struct elfsym_name_ent *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_name_idx(const void *a, const void *b)
{
	const struct elfsym_name_ent *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int build_name_index(struct elfsym_file *f, struct elfsym_priv *p)
{
	struct elfsym_name_ent *e;
	size_t i, j;

	if (!f->nsyms)
		return 0;
	e = calloc(f->nsyms, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (i = 0; i < f->nsyms; i++) {
		e[i].name = f->syms[i].name;
		e[i].value = f->syms[i].value;
		e[i].idx = i;
	}
	/* Drop repeated (name, value) pairs, keeping the first in order. */
	qsort(e, f->nsyms, sizeof(*e), cmp_name_value);
	for (i = j = 0; i < f->nsyms; i++) {
		if (j && e[j - 1].value == e[i].value &&
		    !strcmp(e[j - 1].name, e[i].name))
			continue;
		e[j++] = e[i];
	}
	qsort(e, j, sizeof(*e), cmp_name_idx);
	p->by_name = e;
	p->nby_name = j;
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	const struct elfsym_addr_ent *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int addr_prio(unsigned char type)
{
	switch (type) {
	case STT_FUNC:
	case STT_GNU_IFUNC:
		return 0;
	case STT_OBJECT:
		return 1;
	case STT_NOTYPE:
		return 2;
	default:
		return -1; /* TLS values are offsets, not addresses */
	}
}

static int build_addr_index(struct elfsym_file *f, struct elfsym_priv *p)
{
	struct elfsym_addr_ent *e;
	size_t i, n = 0;
	uint64_t end;
	int prio;

	if (!f->nsyms)
		return 0;
	e = calloc(f->nsyms, sizeof(*e));
	p->maxend = calloc(f->nsyms, sizeof(*p->maxend));
	if (!e || !p->maxend) {
		free(e);
		return -ENOMEM;
	}
	for (i = 0; i < f->nsyms; i++) {
		prio = addr_prio(f->syms[i].type);
		if (prio < 0)
			continue;
		end =
		    f->syms[i].value + (f->syms[i].size ? f->syms[i].size : 1);
		if (end < f->syms[i].value)
			end = UINT64_MAX;
		e[n].value = f->syms[i].value;
		e[n].end = end;
		e[n].idx = i;
		e[n].prio = prio;
		n++;
	}
	qsort(e, n, sizeof(*e), cmp_addr);
	for (i = 0; i < n; i++)
		p->maxend[i] = (i && p->maxend[i - 1] > e[i].end)
				   ? p->maxend[i - 1]
				   : e[i].end;
	p->by_addr = e;
	p->nby_addr = n;
	return 0;
}

/* An x86-64 little-endian ELF file? @is_dyn gets e_type == ET_DYN. */
static int check_header(Elf *elf, int *is_dyn)
{
	GElf_Ehdr ehdr;
	char *ident;

	if (elf_kind(elf) != ELF_K_ELF)
		return -ENOEXEC;
	ident = elf_getident(elf, NULL);
	if (!ident || ident[EI_CLASS] != ELFCLASS64 ||
	    ident[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	if (!gelf_getehdr(elf, &ehdr) || ehdr.e_machine != EM_X86_64)
		return -ENOEXEC;
	*is_dyn = ehdr.e_type == ET_DYN;
	return 0;
}

static void find_sections(Elf *elf, struct elfsym_scn *s)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr))
			continue;
		if (shdr.sh_type == SHT_SYMTAB && !s->symtab)
			s->symtab = scn;
		else if (shdr.sh_type == SHT_DYNSYM && !s->dynsym)
			s->dynsym = scn;
		else if (shdr.sh_type == SHT_DYNAMIC && !s->dynamic)
			s->dynamic = scn;
	}
}

/* Only the identity of the file: header, soname and build-id. */
static int read_ident(Elf *elf, struct elfsym_file *f)
{
	struct elfsym_scn s = {0};
	int err;

	err = check_header(elf, &f->is_pie_or_dso);
	if (err)
		return err;
	find_sections(elf, &s);
	if (s.dynamic)
		read_soname(elf, s.dynamic, f);
	read_build_id(elf, f->build_id, sizeof(f->build_id));
	return 0;
}

/* ---- separate debug files ---- */

/* A debug file being tried, then used. */
struct elfsym_dbg {
	int fd;
	Elf *elf;
	Elf_Scn *symtab;
	size_t shstrndx;
};

/* What the file says of its debug file (.gnu_debuglink). */
struct elfsym_link {
	const char *name; /* in the file's Elf data; NULL: no link */
	uint32_t crc;
};

/* How a candidate is checked. */
struct elfsym_want {
	enum elfsym_debug_via via;
	const char *build_id; /* the file's, "" when it has none */
	const struct elfsym_link *link;
	dev_t dev; /* the file itself, never its own debug file */
	ino_t ino;
};

static void dbg_close(struct elfsym_dbg *d)
{
	if (d->elf)
		elf_end(d->elf);
	if (d->fd >= 0)
		close(d->fd);
	d->elf = NULL;
	d->fd = -1;
	d->symtab = NULL;
}

/* The .gnu_debuglink CRC: CRC-32 (IEEE 802.3, zlib's crc32()). */
static uint32_t debuglink_crc(const unsigned char *buf, size_t len)
{
	uint32_t table[256], c;
	size_t i;
	int k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	c = 0xffffffffu;
	for (i = 0; i < len; i++)
		c = table[(c ^ buf[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* Fill @l from the file's .gnu_debuglink section, if it has a valid one. */
static void read_debuglink(Elf *elf, size_t shstrndx, struct elfsym_link *l)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	Elf_Data *data;
	const char *name;
	size_t len, off;
	uint32_t crc;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!name || strcmp(name, ".gnu_debuglink"))
			continue;
		data = elf_rawdata(scn, NULL);
		if (!data || !data->d_buf)
			return;
		name = data->d_buf;
		len = strnlen(name, data->d_size);
		/* The name, its NUL, padding to 4 bytes, the CRC. */
		off = (len + 1 + 3) & ~(size_t)3;
		if (!len || len == data->d_size || off + 4 > data->d_size ||
		    memchr(name, '/', len))
			return;
		/* check_header() made sure the file is little-endian. */
		memcpy(&crc, (const char *)data->d_buf + off, 4);
		l->name = name;
		l->crc = crc;
		return;
	}
}

/* Record the first candidate that was not used, and why. */
static void dbg_note(struct elfsym_file *f, const char *cand, const char *why)
{
	if (f->debug_note)
		return;
	/* The note only explains: no memory for it is no failure. */
	if (asprintf(&f->debug_note, "%s: %s", cand, why) < 0)
		f->debug_note = NULL;
}

/*
 * Check candidate @cand against @w and open it into @d. Return: 0 (opened
 * and it matches) or 1 (not there, or it does not match: f->debug_note
 * says why).
 */
static int dbg_try(const char *cand, const struct elfsym_want *w,
		   struct elfsym_file *f, struct elfsym_dbg *d)
{
	char build_id[sizeof(f->build_id)];
	struct elfsym_scn s = {0};
	const char *why = NULL;
	struct stat st;
	size_t size;
	char *raw;
	int is_dyn;

	d->fd = open(cand, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 1;
		dbg_note(f, cand, strerror(errno));
		return 1;
	}
	if (fstat(d->fd, &st) || !S_ISREG(st.st_mode)) {
		why = "not a regular file";
		goto no;
	}
	if (st.st_dev == w->dev && st.st_ino == w->ino) {
		dbg_close(d); /* the file itself, as its link may name it */
		return 1;
	}
	d->elf = elf_begin(d->fd, ELF_C_READ_MMAP, NULL);
	if (!d->elf) {
		why = elf_errmsg(-1);
		goto no;
	}
	if (check_header(d->elf, &is_dyn)) {
		why = "not an x86-64 ELF file";
		goto no;
	}
	read_build_id(d->elf, build_id, sizeof(build_id));
	if (w->via == ELFSYM_DEBUG_LINK) {
		raw = elf_rawfile(d->elf, &size);
		if (!raw || debuglink_crc((const unsigned char *)raw, size) !=
				w->link->crc) {
			why = "CRC differs from the .gnu_debuglink one";
			goto no;
		}
	}
	/* By build-id it must be the same; by link, when both have one. */
	if ((w->via == ELFSYM_DEBUG_BUILD_ID || (*build_id && *w->build_id)) &&
	    strcmp(build_id, w->build_id)) {
		why = *build_id ? "build-id differs" : "no build-id";
		goto no;
	}
	find_sections(d->elf, &s);
	if (!s.symtab) {
		why = "no .symtab";
		goto no;
	}
	if (elf_getshdrstrndx(d->elf, &d->shstrndx))
		d->shstrndx = 0;
	d->symtab = s.symtab;
	return 0;
no:
	dbg_note(f, cand, why);
	dbg_close(d);
	return 1;
}

/*
 * Try ROOT/.build-id/xx/rest.debug for each root of @roots. Return: as
 * dbg_try(), or -ENOMEM.
 */
static int dbg_by_build_id(const char *roots, const struct elfsym_want *w,
			   struct elfsym_file *f, struct elfsym_dbg *d)
{
	const char *r = roots, *end;
	char *cand;
	int ret;

	if (strlen(w->build_id) < 4)
		return 1;
	for (; *r; r = *end ? end + 1 : end) {
		end = strchrnul(r, ':');
		if (end == r)
			continue;
		if (asprintf(&cand, "%.*s/.build-id/%.2s/%s.debug",
			     (int)(end - r), r, w->build_id,
			     w->build_id + 2) < 0)
			return -ENOMEM;
		ret = dbg_try(cand, w, f, d);
		if (!ret) {
			f->debug_path = cand;
			return 0;
		}
		free(cand);
		if (ret < 0)
			return ret;
	}
	return 1;
}

/*
 * Try DIR/NAME, DIR/.debug/NAME and ROOT/DIR/NAME for each root of @roots,
 * DIR being the directory of the file's real path. Return: as dbg_try(),
 * or -ENOMEM.
 */
static int dbg_by_link(const char *path, const char *roots,
		       const struct elfsym_want *w, struct elfsym_file *f,
		       struct elfsym_dbg *d)
{
	const char *name = w->link->name, *r, *end, *slash;
	char *real, *cand;
	int ret = 1, dirlen, i;

	real = realpath(path, NULL);
	if (!real && errno == ENOMEM)
		return -ENOMEM;
	if (!real) {
		real = strdup(path); /* gone since it was mapped, say */
		if (!real)
			return -ENOMEM;
	}
	slash = strrchr(real, '/');
	dirlen = slash ? (int)(slash - real) : 1;
	if (!slash)
		real[0] = '.';
	/* DIR/NAME, DIR/.debug/NAME, then ROOT/DIR/NAME (DIR absolute). */
	for (i = 0, r = roots; ret > 0; i++) {
		if (i < 2) {
			ret = asprintf(&cand, "%.*s/%s%s", dirlen, real,
				       i ? ".debug/" : "", name);
		} else {
			for (; *r == ':'; r++)
				;
			if (!*r || real[0] != '/')
				break;
			end = strchrnul(r, ':');
			ret = asprintf(&cand, "%.*s%.*s/%s", (int)(end - r), r,
				       dirlen, real, name);
			r = end;
		}
		if (ret < 0) {
			ret = -ENOMEM;
			break;
		}
		ret = dbg_try(cand, w, f, d);
		if (!ret)
			f->debug_path = cand;
		else
			free(cand);
	}
	free(real);
	return ret;
}

/*
 * Find the separate debug file of a file without .symtab, as gdb does:
 * by build-id, then by .gnu_debuglink. Return: 0 with @d opened or not
 * (d->elf NULL when none was found or none matched), or -ENOMEM.
 */
static int find_debug(Elf *elf, int fd, const char *path, size_t shstrndx,
		      struct elfsym_file *f, struct elfsym_dbg *d)
{
	const char *roots = getenv(ELFSYM_DEBUG_DIR_ENV);
	struct elfsym_link link = {0};
	struct elfsym_want w = {0};
	struct stat st;
	int ret;

	if (!roots || !*roots)
		roots = ELFSYM_DEBUG_DIR_DEFAULT;
	if (fstat(fd, &st))
		return 0;
	w.build_id = f->build_id;
	w.dev = st.st_dev;
	w.ino = st.st_ino;
	w.link = &link;

	w.via = ELFSYM_DEBUG_BUILD_ID;
	ret = dbg_by_build_id(roots, &w, f, d);
	if (ret <= 0)
		goto out;
	if (shstrndx)
		read_debuglink(elf, shstrndx, &link);
	if (!link.name)
		return 0;
	w.via = ELFSYM_DEBUG_LINK;
	ret = dbg_by_link(path, roots, &w, f, d);
out:
	if (ret < 0)
		return ret;
	if (!ret)
		f->debug_via = w.via;
	return 0;
}

static int read_lists(Elf *elf, Elf *rel_elf, size_t shstrndx,
		      struct elfsym_file *f)
{
	int err = 0;

	if (!shstrndx)
		return 0;
	if (!f->pfe)
		err = read_addr_list(elf, rel_elf, shstrndx, PFE_SECTION,
				     &f->pfe, &f->npfe);
	if (!err && !f->mcount)
		err = read_addr_list(elf, rel_elf, shstrndx, MCOUNT_SECTION,
				     &f->mcount, &f->nmcount);
	return err;
}

static int read_elf(Elf *elf, int fd, const char *path, struct elfsym_file *f,
		    struct elfsym_priv *p)
{
	struct elfsym_dbg d = {.fd = -1};
	struct elfsym_scn s = {0};
	size_t shstrndx;
	int err;

	err = check_header(elf, &f->is_pie_or_dso);
	if (err)
		return err;
	if (elf_getshdrstrndx(elf, &shstrndx))
		shstrndx = 0;

	find_sections(elf, &s);
	if (s.dynamic)
		read_soname(elf, s.dynamic, f);
	read_build_id(elf, f->build_id, sizeof(f->build_id));
	if (!s.symtab) {
		err = find_debug(elf, fd, path, shstrndx, f, &d);
		if (err)
			return err;
	}

	if (d.elf) {
		f->from_symtab = 1;
		err = read_symbols(d.elf, d.symtab, f, p);
	} else if (s.symtab || s.dynsym) {
		f->from_symtab = !!s.symtab;
		err = read_symbols(elf, s.symtab ? s.symtab : s.dynsym, f, p);
	}
	/* The file's own lists first: a debug file's are usually empty. */
	if (!err)
		err = read_lists(elf, elf, shstrndx, f);
	if (!err && d.elf)
		err = read_lists(d.elf, elf, d.shstrndx, f);
	dbg_close(&d);
	if (err)
		return err;

	err = build_name_index(f, p);
	if (err)
		return err;
	return build_addr_index(f, p);
}

/* elfsym_open() and elfsym_open_ident(): @full reads the symbols too. */
static int open_elf(const char *path, struct elfsym_file *out, int full)
{
	struct stat st;
	Elf *elf;
	int fd, err;

	if (!path || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto err_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto err_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -ENOEXEC;
		goto err_fd;
	}

	out->priv = full ? calloc(1, sizeof(struct elfsym_priv)) : NULL;
	out->path = strdup(path);
	if ((full && !out->priv) || !out->path) {
		err = -ENOMEM;
		goto err_close;
	}

	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		err = -ENOEXEC;
		goto err_close;
	}
	err = full ? read_elf(elf, fd, path, out, out->priv)
		   : read_ident(elf, out);
	elf_end(elf);
	if (err)
		goto err_close;

	close(fd);
	return 0;

err_close:
	elfsym_close(out);
err_fd:
	close(fd);
	return err;
}

/**
 * elfsym_open() - read the symbols of an ELF file
 * @path:	file to read
 * @out:	filled on success; release with elfsym_close()
 *
 * A file without .symtab gets the symbols of its separate debug file, if
 * one is found under the roots of $UKLP_DEBUG_DIR (default /usr/lib/debug)
 * or next to it, and matches (see struct elfsym_file).
 *
 * On failure @out is left zeroed (elfsym_close() on it is harmless).
 *
 * Return: 0, -ENOENT (no file), -ENOEXEC (not an x86-64 ELF file), or
 * another -errno.
 */
int elfsym_open(const char *path, struct elfsym_file *out)
{
	return open_elf(path, out, 1);
}

/**
 * elfsym_open_ident() - read only what identifies an ELF file: its type,
 * DT_SONAME and build-id (no symbols, no patchable sites)
 * @path:	file to read
 * @out:	filled on success (path, is_pie_or_dso, soname, build_id; no
 *		symbols); release with elfsym_close()
 *
 * Much cheaper than elfsym_open() for a file whose symbols are not needed.
 *
 * Return: as elfsym_open().
 */
int elfsym_open_ident(const char *path, struct elfsym_file *out)
{
	return open_elf(path, out, 0);
}

/**
 * elfsym_describe() - where the symbols of an opened file came from
 * @f:		the file
 * @buf:	the text, e.g. "/usr/lib/debug/.build-id/ab/cdef.debug
 *		(build-id)", ".symtab of /usr/bin/prog" or ".dynsym of
 *		/usr/bin/prog (no .symtab; no debug file found)"
 * @len:	size of @buf
 *
 * Return: the length of the whole text, as snprintf().
 */
int elfsym_describe(const struct elfsym_file *f, char *buf, size_t len)
{
	const char *path = f && f->path ? f->path : "(none)";

	if (!f)
		return snprintf(buf, len, "(none)");
	if (f->debug_path)
		return snprintf(buf, len, "%s (%s)", f->debug_path,
				f->debug_via == ELFSYM_DEBUG_LINK ? "debuglink"
								  : "build-id");
	if (f->from_symtab)
		return snprintf(buf, len, ".symtab of %s", path);
	return snprintf(buf, len, "%s %s (no .symtab; %s%s)",
			f->nsyms ? ".dynsym of" : "no symbols in", path,
			f->debug_note ? "debug file " : "no debug file found",
			f->debug_note ? f->debug_note : "");
}

/**
 * elfsym_close() - release what elfsym_open() allocated
 * @f:	the file
 *
 * @f is zeroed, so a second call is harmless.
 */
void elfsym_close(struct elfsym_file *f)
{
	struct elfsym_priv *p;

	if (!f)
		return;
	p = f->priv;
	if (p) {
		free(p->by_addr);
		free(p->maxend);
		free(p->by_name);
		free(p->strings);
		free(p);
	}
	free(f->mcount);
	free(f->pfe);
	free(f->syms);
	free(f->soname);
	free(f->debug_path);
	free(f->debug_note);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

/**
 * elfsym_lookup() - find a symbol by name with the kernel's sympos rule
 * @f:		the file
 * @name:	symbol name
 * @sympos:	0: the name must be unique; N: the Nth match in table order
 * @out:	the symbol found
 * @count:	if not NULL, the number of symbols named @name
 *
 * Several table entries with the same name and value (aliases, versioned
 * .dynsym entries) count as one symbol.
 *
 * Return: 0; -ENOENT when no symbol has the name; -EINVAL when @sympos is 0
 * and the name is ambiguous; -ERANGE when @sympos is larger than the number
 * of matches.
 */
int elfsym_lookup(const struct elfsym_file *f, const char *name,
		  unsigned long sympos, struct elfsym_sym *out, size_t *count)
{
	const struct elfsym_priv *p;
	size_t lo = 0, hi, n;

	if (count)
		*count = 0;
	if (!f || !name || !out)
		return -EINVAL;
	p = f->priv;
	if (!p || !p->nby_name)
		return -ENOENT;

	/* First entry whose name is >= @name. */
	hi = p->nby_name;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(p->by_name[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (n = 0; lo + n < p->nby_name; n++)
		if (strcmp(p->by_name[lo + n].name, name))
			break;

	if (count)
		*count = n;
	if (!n)
		return -ENOENT;
	if (!sympos && n > 1)
		return -EINVAL;
	if (sympos > n)
		return -ERANGE;
	*out = f->syms[p->by_name[lo + (sympos ? sympos - 1 : 0)].idx];
	return 0;
}

/* Is candidate @a a better answer than @b (both contain the address)? */
static bool addr_better(const struct elfsym_file *f,
			const struct elfsym_addr_ent *a,
			const struct elfsym_addr_ent *b)
{
	const struct elfsym_sym *sa = &f->syms[a->idx], *sb = &f->syms[b->idx];

	if (a->prio != b->prio)
		return a->prio < b->prio;
	/* The innermost symbol: the one starting closest to the address. */
	if (a->value != b->value)
		return a->value > b->value;
	if ((sa->bind == STB_GLOBAL) != (sb->bind == STB_GLOBAL))
		return sa->bind == STB_GLOBAL;
	return a->idx < b->idx;
}

/**
 * elfsym_find_addr() - the function or object containing a link-time address
 * @f:		the file
 * @addr:	link-time address
 * @out:	the symbol with value <= @addr < value + size (size 0 symbols
 *		match only their exact address)
 *
 * Functions are preferred over data objects, and those over untyped
 * symbols; among equals, the innermost one, then a global one, then the
 * first in table order. TLS symbols are never returned.
 *
 * Return: 0 or -ENOENT.
 */
int elfsym_find_addr(const struct elfsym_file *f, uint64_t addr,
		     struct elfsym_sym *out)
{
	const struct elfsym_addr_ent *best = NULL, *e;
	const struct elfsym_priv *p;
	size_t lo = 0, hi, j;

	if (!f || !out)
		return -EINVAL;
	p = f->priv;
	if (!p || !p->nby_addr)
		return -ENOENT;

	/* Number of entries with value <= @addr. */
	hi = p->nby_addr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->by_addr[mid].value <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (j = lo; j > 0 && p->maxend[j - 1] > addr; j--) {
		e = &p->by_addr[j - 1];
		if (addr >= e->end)
			continue;
		if (!best || addr_better(f, e, best))
			best = e;
	}
	if (!best)
		return -ENOENT;
	*out = f->syms[best->idx];
	return 0;
}

/**
 * elfsym_has_entry() - is @addr recorded by the compiler as a patchable site
 * @list:	f->pfe or f->mcount
 * @n:		its length
 * @addr:	link-time address
 *
 * Return: 1 when @addr is in the sorted list, 0 otherwise.
 */
int elfsym_has_entry(const uint64_t *list, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	if (!list)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (list[mid] == addr)
			return 1;
		if (list[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}
