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
		total += strlen(name) + 1;
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
		len = strlen(name) + 1;
		if (off + len > total)
			return -EIO;
		memcpy(p->strings + off, name, len);
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

/* Look for NT_GNU_BUILD_ID in one block of notes. Return: 1 when found. */
static int build_id_in_notes(Elf_Data *data, struct elfsym_file *f)
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
		if (len > (sizeof(f->build_id) - 1) / 2)
			len = (sizeof(f->build_id) - 1) / 2;
		for (i = 0; i < len; i++) {
			f->build_id[2 * i] = hex[desc[i] >> 4];
			f->build_id[2 * i + 1] = hex[desc[i] & 0xf];
		}
		f->build_id[2 * len] = '\0';
		return 1;
	}
	return 0;
}

static void read_build_id(Elf *elf, struct elfsym_file *f)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	GElf_Phdr phdr;
	Elf_Data *data;
	size_t nscn = 0, nph = 0, i;

	if (elf_getshdrnum(elf, &nscn))
		nscn = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (data && build_id_in_notes(data, f))
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
		if (data && build_id_in_notes(data, f))
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
 */
static int read_addr_list(Elf *elf, size_t shstrndx, const char *secname,
			  uint64_t **out, size_t *nout)
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
			apply_relative(elf, shdr.sh_addr, list + n, cnt);
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

static int check_header(Elf *elf, struct elfsym_file *f)
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
	f->is_pie_or_dso = ehdr.e_type == ET_DYN;
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

	err = check_header(elf, f);
	if (err)
		return err;
	find_sections(elf, &s);
	if (s.dynamic)
		read_soname(elf, s.dynamic, f);
	read_build_id(elf, f);
	return 0;
}

static int read_elf(Elf *elf, struct elfsym_file *f, struct elfsym_priv *p)
{
	struct elfsym_scn s = {0};
	size_t shstrndx;
	int err;

	err = check_header(elf, f);
	if (err)
		return err;
	if (elf_getshdrstrndx(elf, &shstrndx))
		shstrndx = 0;

	find_sections(elf, &s);
	if (s.symtab || s.dynsym) {
		f->from_symtab = !!s.symtab;
		err = read_symbols(elf, s.symtab ? s.symtab : s.dynsym, f, p);
		if (err)
			return err;
	}
	if (s.dynamic)
		read_soname(elf, s.dynamic, f);
	read_build_id(elf, f);

	if (shstrndx) {
		err = read_addr_list(elf, shstrndx, PFE_SECTION, &f->pfe,
				     &f->npfe);
		if (err)
			return err;
		err = read_addr_list(elf, shstrndx, MCOUNT_SECTION, &f->mcount,
				     &f->nmcount);
		if (err)
			return err;
	}

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
	err = full ? read_elf(elf, out, out->priv) : read_ident(elf, out);
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
