/* SPDX-License-Identifier: MIT */
/*
 * objects - the loaded objects of the process (the kernel's modules and
 * vmlinux), with their symbol tables read on first use. Prefix: objects_.
 */
#ifndef UKLP_OBJECTS_H
#define UKLP_OBJECTS_H

#include <stdint.h>

#include "elfsym.h"

struct uklp_obj {
	char *path; /* file; for the main executable /proc/self/exe's target */
	const char *name;     /* base name of @path */
	uintptr_t base;	      /* load bias: run-time = link-time + base */
	uintptr_t start, end; /* span of its PT_LOAD segments */
	int is_main;
	int elf_err; /* elfsym_open()'s error, 0 when read or not tried */
	int elf_loaded;
	unsigned long elf_seq; /* order in which the table was read */
	struct elfsym_file elf;
	unsigned long seen; /* scan generation it was last seen in */
	int going;	    /* not seen by the last scan */
	struct uklp_obj *next;
};

/**
 * objects_scan() - refresh the list from the dynamic loader's
 * @added:	out (optional): objects that appeared, as a NULL-ended array
 *		(free() the array, not the objects)
 * @removed:	out (optional): objects that disappeared; they stay on the
 *		list marked going until objects_forget()
 *
 * Return: 0 or -errno.
 */
int objects_scan(struct uklp_obj ***added, struct uklp_obj ***removed);

/**
 * objects_find() - the loaded object a klp_object names
 * @name:	NULL for the main executable, else a file base name or soname
 *
 * Return: the object or NULL.
 */
struct uklp_obj *objects_find(const char *name);

/**
 * objects_find_addr() - the loaded object containing a run-time address
 * @addr:	address
 *
 * Return: the object or NULL.
 */
struct uklp_obj *objects_find_addr(uintptr_t addr);

/**
 * objects_elf() - the object's symbol tables, read once
 * @o:	object
 *
 * Return: the table, or NULL (o->elf_err says why).
 */
struct elfsym_file *objects_elf(struct uklp_obj *o);

/**
 * objects_matches() - does a klp_object name designate @o
 * @o:		object
 * @name:	NULL (main executable), file base name or DT_SONAME
 *
 * Return: 1 or 0.
 */
int objects_matches(struct uklp_obj *o, const char *name);

/**
 * objects_elf_mark() - a mark for objects_elf_release()
 *
 * Return: the number of symbol tables read so far.
 */
unsigned long objects_elf_mark(void);

/**
 * objects_elf_release() - forget the symbol tables read since @mark
 * @mark:	from objects_elf_mark()
 *
 * A refused operation gives back what it read, so that the process's
 * memory is as it was (with malloc_trim()).
 */
void objects_elf_release(unsigned long mark);

/**
 * objects_forget() - drop a going object from the list and free it
 * @o:	object
 */
void objects_forget(struct uklp_obj *o);

#endif
