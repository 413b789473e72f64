/* SPDX-License-Identifier: MIT */
/*
 * elfsym - ELF symbol tables of loaded objects (shared by the runtime and
 * the tool). Prefix: elfsym_.
 */
#ifndef UKLP_ELFSYM_H
#define UKLP_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

/* One defined symbol (function or data object) of an ELF file. */
struct elfsym_sym {
	const char *name;   /* points into the elfsym_file's string storage */
	uint64_t value;	    /* link-time address (st_value) */
	uint64_t size;	    /* st_size */
	unsigned char type; /* STT_FUNC, STT_OBJECT, STT_GNU_IFUNC, ... */
	unsigned char bind; /* STB_LOCAL, STB_GLOBAL, STB_WEAK */
};

/* How a separate debug file was found (elfsym_file.debug_via). */
enum elfsym_debug_via {
	ELFSYM_DEBUG_NONE = 0,
	ELFSYM_DEBUG_BUILD_ID, /* ROOT/.build-id/xx/yyyy.debug */
	ELFSYM_DEBUG_LINK,     /* .gnu_debuglink name, its CRC checked */
};

/* The roots of the debug file trees: this variable, colon-separated. */
#define ELFSYM_DEBUG_DIR_ENV	 "UKLP_DEBUG_DIR"
#define ELFSYM_DEBUG_DIR_DEFAULT "/usr/lib/debug"

/*
 * An opened ELF file's symbol view. Symbols come from .symtab when the file
 * has one; else from the .symtab of its separate debug file when one is
 * found and matches (as gdb finds it: by build-id under each debug root,
 * then by .gnu_debuglink next to the file, in its .debug/ and under each
 * root); else from .dynsym. They are in symbol-table order (that order
 * defines sympos, as kallsyms order does in the kernel). Only defined
 * symbols (st_shndx != SHN_UNDEF) of type FUNC, GNU_IFUNC, OBJECT, TLS or
 * NOTYPE with a non-empty name are kept; the default version of a
 * versioned symbol, "name@@VERSION" in a .symtab, is kept as "name" (as
 * .dynsym names it). Code is never read from a debug file (its .text has
 * no contents); only its .symtab and, when the file itself has none, its
 * __patchable_function_entries and __mcount_loc.
 */
struct elfsym_file {
	char *path;
	int is_pie_or_dso;  /* e_type == ET_DYN */
	char *soname;	    /* DT_SONAME or NULL */
	char build_id[129]; /* lowercase hex of NT_GNU_BUILD_ID, "" if none */
	struct elfsym_sym *syms;
	size_t nsyms;
	int from_symtab; /* 1: a .symtab (maybe the debug file's), 0: .dynsym */
	char *debug_path; /* the debug file the symbols came from, or NULL */
	enum elfsym_debug_via debug_via; /* how it was found */
	char
	    *debug_note; /* a debug file found but not used, and why; or NULL */
	uint64_t *pfe;	 /* __patchable_function_entries, link-time, sorted */
	size_t npfe;
	uint64_t *mcount; /* __mcount_loc, link-time, sorted */
	size_t nmcount;
	void *priv; /* implementation data (string storage) */
};

/**
 * elfsym_open() - read the symbols of an ELF file
 * @path:	file to read
 * @out:	filled on success; release with elfsym_close()
 *
 * Return: 0, -ENOENT (no file), -ENOEXEC (not an x86-64 ELF file), or
 * another -errno.
 */
int elfsym_open(const char *path, struct elfsym_file *out);

/**
 * elfsym_open_ident() - read only the type, DT_SONAME and build-id of an
 * ELF file (no symbols)
 * @path:	file to read
 * @out:	filled on success; release with elfsym_close()
 *
 * Return: as elfsym_open().
 */
int elfsym_open_ident(const char *path, struct elfsym_file *out);

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
int elfsym_describe(const struct elfsym_file *f, char *buf, size_t len);

/**
 * elfsym_close() - release what elfsym_open() allocated
 * @f:	the file
 */
void elfsym_close(struct elfsym_file *f);

/**
 * elfsym_lookup() - find a symbol by name with the kernel's sympos rule
 * @f:		the file
 * @name:	symbol name
 * @sympos:	0: the name must be unique; N: the Nth match in table order
 * @out:	the symbol found
 * @count:	if not NULL, the number of symbols named @name
 *
 * Functions and data objects are both searched (the kernel's kallsyms does
 * the same for klp relocations).
 *
 * Return: 0; -ENOENT when no symbol has the name; -EINVAL when @sympos is 0
 * and the name is ambiguous; -ERANGE when @sympos is larger than the number
 * of matches.
 */
int elfsym_lookup(const struct elfsym_file *f, const char *name,
		  unsigned long sympos, struct elfsym_sym *out, size_t *count);

/**
 * elfsym_find_addr() - the function or object containing a link-time address
 * @f:		the file
 * @addr:	link-time address
 * @out:	the symbol with value <= @addr < value + size (size 0 symbols
 *		match only their exact address)
 *
 * Return: 0 or -ENOENT.
 */
int elfsym_find_addr(const struct elfsym_file *f, uint64_t addr,
		     struct elfsym_sym *out);

/**
 * elfsym_has_entry() - is @addr recorded by the compiler as a patchable site
 * @list:	f->pfe or f->mcount
 * @n:		its length
 * @addr:	link-time address
 *
 * Return: 1 when @addr is in the sorted list, 0 otherwise.
 */
int elfsym_has_entry(const uint64_t *list, size_t n, uint64_t addr);

#endif /* UKLP_ELFSYM_H */
