/* SPDX-License-Identifier: MIT */
/*
 * proc - a target process seen from outside: its mappings, its loaded
 * objects and their symbols, its memory. Prefix: proc_.
 */
#ifndef UKLP_TOOL_PROC_H
#define UKLP_TOOL_PROC_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "elfsym.h"

/* One loaded object of the target (an ELF file mapped by the loader). */
struct proc_obj {
	char *path;	      /* as in /proc/PID/maps */
	uintptr_t bias;	      /* run-time address = link-time + bias */
	uintptr_t start, end; /* span of its mappings */
	uintptr_t text_start, text_end; /* its executable mapping(s) */
	struct elfsym_file elf;		/* read on first proc_obj_elf() */
	int elf_state;			/* 0 not read, 1 read, -errno failed */
	/* additions */
	pid_t pid;			/* the process it is mapped in */
	uint64_t inode;			/* as in /proc/PID/maps */
	uintptr_t map0_start, map0_end; /* its mapping at file offset 0, or 0 */
	int is_dyn;	   /* ET_DYN (PIE or shared object), -1: unknown */
	Elf64_Phdr *phdrs; /* program headers (malloc'ed), or NULL */
	size_t nphdrs;
};

/* One line of /proc/PID/maps. */
struct proc_map {
	uintptr_t start, end;
	char perms[5]; /* "r-xp" */
	uint64_t offset;
	char path[4096]; /* "" for anonymous, "[stack]", "/usr/lib/..." */
};

/* A private writable mapping (proc_rw_ranges()). */
struct proc_range {
	uintptr_t start, end;
	int main_stack; /* "[stack]": grows down on demand */
};

struct proc {
	pid_t pid;
	struct proc_obj *objs;
	size_t nobjs;
	int memfd; /* /proc/PID/mem, O_RDWR, or -1 */
};

/**
 * proc_open() - look at a process: its objects from /proc/PID/maps
 * @pid:	the process
 * @p:		filled; release with proc_close()
 *
 * Return: 0, -ESRCH (no such process), -EPERM (not ours to look at), or
 * another -errno.
 */
int proc_open(pid_t pid, struct proc *p);

/**
 * proc_open_maps() - look at a process's objects only, without the right
 * to trace it (no /proc/PID/mem)
 * @pid:	the process
 * @p:		filled; release with proc_close()
 *
 * Return: 0, -ESRCH (no such process), -EPERM (its maps are not ours to
 * read), or another -errno.
 */
int proc_open_maps(pid_t pid, struct proc *p);

/**
 * proc_close() - release a struct proc
 * @p:	the process view
 */
void proc_close(struct proc *p);

/**
 * proc_refresh() - read /proc/PID/maps again (after an injection)
 * @p:	the process view
 *
 * Return: 0 or -errno.
 */
int proc_refresh(struct proc *p);

/**
 * proc_find_obj() - a loaded object by base name prefix ("libc.so",
 * "ld-linux", "libuklp.so") or full path
 * @p:		the process view
 * @name:	prefix of the base name, or a path
 *
 * Return: the object or NULL.
 */
struct proc_obj *proc_find_obj(struct proc *p, const char *name);

/**
 * proc_obj_at() - the object whose mappings contain @addr
 * @p:		the process view
 * @addr:	address in the target
 *
 * Return: the object or NULL.
 */
struct proc_obj *proc_obj_at(struct proc *p, uintptr_t addr);

/**
 * proc_obj_elf() - the object's symbols (read once)
 * @o:	object
 *
 * Return: the table, or NULL.
 */
struct elfsym_file *proc_obj_elf(struct proc_obj *o);

/**
 * proc_obj_ident() - the type, DT_SONAME and build-id of an object's file
 * @o:	object
 * @f:	out (no symbols); release with elfsym_close()
 *
 * Return: 0 or -errno.
 */
int proc_obj_ident(const struct proc_obj *o, struct elfsym_file *f);

/**
 * proc_sym() - run-time address of a symbol of an object
 * @p:		the process view
 * @objname:	see proc_find_obj()
 * @sym:	symbol name (sympos 0: must be unique)
 * @addr:	out
 *
 * Return: 0, -ENOENT (no such object or symbol), or -errno.
 */
int proc_sym(struct proc *p, const char *objname, const char *sym,
	     uintptr_t *addr);

/**
 * proc_read() - read target memory (process_vm_readv)
 * @p:		the process view
 * @addr:	target address
 * @buf:	destination
 * @len:	bytes
 *
 * Return: 0 or -errno (-EFAULT when not all could be read).
 */
int proc_read(struct proc *p, uintptr_t addr, void *buf, size_t len);

/**
 * proc_write() - write target memory, even read-only code (/proc/PID/mem)
 * @p:		the process view
 * @addr:	target address
 * @buf:	source
 * @len:	bytes
 *
 * Return: 0 or -errno.
 */
int proc_write(struct proc *p, uintptr_t addr, const void *buf, size_t len);

/**
 * proc_tids() - the target's threads (/proc/PID/task)
 * @pid:	process
 * @tids:	out: malloc'ed array
 * @n:		out: count
 *
 * Return: 0 or -errno.
 */
int proc_tids(pid_t pid, pid_t **tids, size_t *n);

/**
 * proc_pids() - every process of the system (numeric entries of /proc)
 * @pids:	out: malloc'ed array, sorted
 * @n:		out: count
 *
 * Return: 0 or -errno.
 */
int proc_pids(pid_t **pids, size_t *n);

/**
 * proc_main_obj() - the main executable's object (/proc/PID/exe)
 * @p:	the process view
 *
 * Return: the object or NULL.
 */
struct proc_obj *proc_main_obj(struct proc *p);

/**
 * proc_rw_ranges() - the readable and writable mappings of a process,
 * read now, in address order
 * @pid:	process
 * @out:	out: malloc'ed array (NULL when none)
 * @n:		out: its length
 *
 * Return: 0, -ESRCH, -EPERM or -errno.
 */
int proc_rw_ranges(pid_t pid, struct proc_range **out, size_t *n);

/**
 * proc_mapping_at() - the mapping containing an address, read now
 * @pid:	process
 * @addr:	address in the target
 * @m:		out
 *
 * Reads /proc/PID/maps afresh (anonymous mappings included).
 *
 * Return: 0, -ENOENT (no mapping there), -ESRCH, -EPERM or -errno.
 */
int proc_mapping_at(pid_t pid, uintptr_t addr, struct proc_map *m);

/**
 * proc_obj_exec_slack() - unused bytes at the end of an object's last
 * executable segment, inside its mapped r-x page
 * @o:		object (with program headers)
 * @start:	out: first byte (run-time address)
 * @len:	out: number of bytes (0 when there is no slack)
 *
 * Return: 0, or -ENOENT when the object has no executable segment or
 * program headers.
 */
int proc_obj_exec_slack(const struct proc_obj *o, uintptr_t *start,
			size_t *len);

#endif
