// SPDX-License-Identifier: MIT
/*
 * proc.c - a target process seen from outside: /proc/PID/maps grouped into
 * loaded objects, their symbols (common/elfsym), their memory
 * (process_vm_readv, /proc/PID/mem) and their threads (/proc/PID/task).
 *
 * Nothing here stops the target.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proc.h"

#define PROC_MAX_PHDRS 256

/* An errno from opening or reading a /proc file, as proc_open() reports it. */
static int proc_errno(int e)
{
	if (e == ENOENT)
		return -ESRCH;
	if (e == EACCES)
		return -EPERM;
	return -e;
}

static size_t page_size(void)
{
	static size_t ps;

	if (!ps) {
		long v = sysconf(_SC_PAGESIZE);

		ps = v > 0 ? (size_t)v : 4096;
	}
	return ps;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Parse one line of /proc/PID/maps into @m; 0 or -EINVAL. */
static int parse_map_line(const char *line, struct proc_map *m, uint64_t *inode)
{
	unsigned long start, end, off, ino;
	unsigned int maj, min;
	char perms[5];
	int n = 0;
	size_t len;

	if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &start, &end, perms,
		   &off, &maj, &min, &ino, &n) < 7)
		return -EINVAL;
	m->start = start;
	m->end = end;
	memcpy(m->perms, perms, sizeof(m->perms));
	m->offset = off;
	if (inode)
		*inode = ino;
	line += n;
	while (*line == ' ')
		line++;
	snprintf(m->path, sizeof(m->path), "%s", line);
	len = strlen(m->path);
	while (len && (m->path[len - 1] == '\n' || m->path[len - 1] == ' '))
		m->path[--len] = '\0';
	return 0;
}

static FILE *open_maps(pid_t pid, int *err)
{
	char fn[64];
	FILE *f;

	snprintf(fn, sizeof(fn), "/proc/%d/maps", (int)pid);
	f = fopen(fn, "re");
	if (!f)
		*err = proc_errno(errno);
	return f;
}

/**
 * proc_rw_ranges() - the readable and writable mappings of a process,
 * read now, in address order
 * @pid:	process
 * @out:	out: malloc'ed array (NULL when none)
 * @n:		out: its length
 *
 * Return: 0, -ESRCH, -EPERM or -errno.
 */
int proc_rw_ranges(pid_t pid, struct proc_range **out, size_t *n)
{
	struct proc_range *r = NULL;
	struct proc_map *m = malloc(sizeof(*m));
	size_t cap = 0, len = 0;
	char *line = NULL;
	int err = 0;
	FILE *f;

	*out = NULL;
	*n = 0;
	if (!m)
		return -ENOMEM;
	f = open_maps(pid, &err);
	if (!f)
		goto out;
	while (getline(&line, &cap, f) > 0) {
		if (parse_map_line(line, m, NULL) || m->perms[0] != 'r' ||
		    m->perms[1] != 'w')
			continue;
		if (!(len & (len + 1)) || !r) {
			/* Grow at 0, 1, 3, 7, ... entries. */
			struct proc_range *nr =
			    realloc(r, (len * 2 + 2) * sizeof(*nr));

			if (!nr) {
				err = -ENOMEM;
				break;
			}
			r = nr;
		}
		r[len].start = m->start;
		r[len].end = m->end;
		r[len].main_stack = !strcmp(m->path, "[stack]");
		len++;
	}
	if (!err && ferror(f))
		err = proc_errno(errno ? errno : EIO);
	fclose(f);
out:
	free(line);
	free(m);
	if (err) {
		free(r);
		return err;
	}
	*out = r;
	*n = len;
	return 0;
}

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
int proc_mapping_at(pid_t pid, uintptr_t addr, struct proc_map *m)
{
	char *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f;

	f = open_maps(pid, &err);
	if (!f)
		return err;
	errno = 0;
	while (getline(&line, &cap, f) > 0) {
		if (parse_map_line(line, m, NULL))
			continue;
		if (addr >= m->start && addr < m->end) {
			err = 0;
			break;
		}
	}
	if (err && ferror(f))
		err = proc_errno(errno ? errno : EIO);
	free(line);
	fclose(f);
	return err;
}

/* Append a mapping of a file to the object list. */
static int add_mapping(struct proc_obj **objs, size_t *n, size_t *cap,
		       const struct proc_map *m, uint64_t inode, pid_t pid)
{
	struct proc_obj *o = NULL;

	/* The same object: the same path, unless this is a second mapping
	 * at offset 0 (the file loaded a second time). */
	for (size_t i = *n; i-- > 0;) {
		if (strcmp((*objs)[i].path, m->path))
			continue;
		if (m->offset == 0 && (*objs)[i].map0_start)
			break;
		o = &(*objs)[i];
		break;
	}
	if (!o) {
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 32;
			struct proc_obj *no = realloc(*objs, nc * sizeof(*no));

			if (!no)
				return -ENOMEM;
			*objs = no;
			*cap = nc;
		}
		o = &(*objs)[(*n)];
		memset(o, 0, sizeof(*o));
		o->path = strdup(m->path);
		if (!o->path)
			return -ENOMEM;
		o->pid = pid;
		o->is_dyn = -1;
		o->inode = inode;
		o->start = m->start;
		o->end = m->end;
		(*n)++;
	}
	if (m->start < o->start)
		o->start = m->start;
	if (m->end > o->end)
		o->end = m->end;
	if (m->offset == 0 && !o->map0_start) {
		o->map0_start = m->start;
		o->map0_end = m->end;
	}
	if (m->perms[2] == 'x') {
		if (!o->text_start || m->start < o->text_start)
			o->text_start = m->start;
		if (m->end > o->text_end)
			o->text_end = m->end;
	}
	return 0;
}

static int read_mem(pid_t pid, int memfd, uintptr_t addr, void *buf,
		    size_t len);

/*
 * A path under which the tool can open the object's file: the path itself
 * when it is the same file (inode), else through the target's root, else
 * /proc/PID/map_files (deleted or memfd files).
 */
static int obj_file_path(const struct proc_obj *o, char *out, size_t len)
{
	char cand[3][PATH_MAX + 64];
	int ncand = 0, first = -1;
	struct stat st;

	if (!strstr(o->path, " (deleted)"))
		snprintf(cand[ncand++], sizeof(cand[0]), "%s", o->path);
	snprintf(cand[ncand++], sizeof(cand[0]), "/proc/%d/root%s", (int)o->pid,
		 o->path);
	if (o->map0_start)
		snprintf(cand[ncand++], sizeof(cand[0]),
			 "/proc/%d/map_files/%lx-%lx", (int)o->pid,
			 (unsigned long)o->map0_start,
			 (unsigned long)o->map0_end);
	for (int i = 0; i < ncand; i++) {
		if (stat(cand[i], &st) || !S_ISREG(st.st_mode))
			continue;
		if (first < 0)
			first = i;
		if (!o->inode || st.st_ino == o->inode) {
			first = i;
			break;
		}
	}
	if (first < 0)
		return -ENOENT;
	snprintf(out, len, "%s", cand[first]);
	return 0;
}

/* Read @len bytes at file offset @off of the object's file. */
static int read_file_at(const struct proc_obj *o, uint64_t off, void *buf,
			size_t len)
{
	char path[PATH_MAX + 64];
	ssize_t r;
	int fd, err;

	err = obj_file_path(o, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = pread(fd, buf, len, (off_t)off);
	err = r < 0 ? -errno : (size_t)r != len ? -ENOEXEC : 0;
	close(fd);
	return err;
}

/*
 * Read the ELF header and program headers of an object, from the target's
 * memory (the first page is mapped at file offset 0) or else from its file;
 * compute is_dyn and bias.
 */
static void obj_read_headers(struct proc_obj *o, int memfd)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	uintptr_t lowest = UINTPTR_MAX;
	size_t phlen;
	int from_mem = 0;

	if (!o->map0_start)
		return;
	if (!read_mem(o->pid, memfd, o->map0_start, &eh, sizeof(eh)))
		from_mem = 1;
	else if (read_file_at(o, 0, &eh, sizeof(eh)))
		return;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_phnum ||
	    eh.e_phnum > PROC_MAX_PHDRS) {
		o->is_dyn = -2; /* not an ELF object we know */
		return;
	}
	phlen = (size_t)eh.e_phnum * sizeof(*ph);
	ph = malloc(phlen);
	if (!ph)
		return;
	if ((!from_mem || eh.e_phoff + phlen > o->map0_end - o->map0_start ||
	     read_mem(o->pid, memfd, o->map0_start + eh.e_phoff, ph, phlen)) &&
	    read_file_at(o, eh.e_phoff, ph, phlen)) {
		free(ph);
		return;
	}
	for (size_t i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < lowest)
			lowest = ph[i].p_vaddr;
	o->phdrs = ph;
	o->nphdrs = eh.e_phnum;
	o->is_dyn = eh.e_type == ET_DYN;
	if (o->is_dyn && lowest != UINTPTR_MAX)
		o->bias = o->map0_start - (lowest & ~(page_size() - 1));
	else
		o->bias = 0;
}

static void obj_free(struct proc_obj *o)
{
	free(o->path);
	free(o->phdrs);
	if (o->elf_state == 1)
		elfsym_close(&o->elf);
	memset(o, 0, sizeof(*o));
}

/* Read /proc/PID/maps into a fresh object array. */
static int read_objects(pid_t pid, int memfd, struct proc_obj **objsp,
			size_t *np)
{
	struct proc_obj *objs = NULL;
	size_t n = 0, cap = 0;
	struct proc_map *m;
	char *line = NULL;
	size_t lcap = 0;
	uint64_t inode;
	int err = 0;
	FILE *f;

	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	f = open_maps(pid, &err);
	if (!f)
		goto out_m;
	errno = 0;
	while (getline(&line, &lcap, f) > 0) {
		if (parse_map_line(line, m, &inode) || m->path[0] != '/')
			continue;
		err = add_mapping(&objs, &n, &cap, m, inode, pid);
		if (err)
			goto out;
	}
	if (ferror(f)) {
		err = proc_errno(errno ? errno : EIO);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		obj_read_headers(&objs[i], memfd);
	/* Files mapped by the program that are not ELF objects: drop. */
	for (size_t i = 0; i < n;) {
		if (objs[i].is_dyn != -2) {
			i++;
			continue;
		}
		obj_free(&objs[i]);
		memmove(&objs[i], &objs[i + 1], (n - i - 1) * sizeof(*objs));
		n--;
	}
out:
	if (err) {
		for (size_t i = 0; i < n; i++)
			obj_free(&objs[i]);
		free(objs);
		objs = NULL;
		n = 0;
	}
	free(line);
	fclose(f);
out_m:
	free(m);
	*objsp = objs;
	*np = n;
	return err;
}

/**
 * proc_open() - look at a process: its objects from /proc/PID/maps
 * @pid:	the process
 * @p:		filled; release with proc_close()
 *
 * Return: 0, -ESRCH (no such process), -EPERM (not ours to look at), or
 * another -errno.
 */
int proc_open(pid_t pid, struct proc *p)
{
	char fn[64];
	struct stat st;
	int err;

	memset(p, 0, sizeof(*p));
	p->memfd = -1;
	if (pid <= 0)
		return -ESRCH;
	snprintf(fn, sizeof(fn), "/proc/%d", (int)pid);
	if (stat(fn, &st))
		return proc_errno(errno);
	p->pid = pid;
	snprintf(fn, sizeof(fn), "/proc/%d/mem", (int)pid);
	p->memfd = open(fn, O_RDWR | O_CLOEXEC);
	if (p->memfd < 0) {
		err = errno == EACCES || errno == EPERM ? -EPERM
							: proc_errno(errno);
		goto err;
	}
	err = read_objects(pid, p->memfd, &p->objs, &p->nobjs);
	if (err)
		goto err_mem;
	return 0;

err_mem:
	close(p->memfd);
	p->memfd = -1;
err:
	p->pid = 0;
	return err;
}

/**
 * proc_open_maps() - look at a process's objects only: like proc_open()
 * without /proc/PID/mem, so that it only needs the right to read
 * /proc/PID/maps (not to trace the process)
 * @pid:	the process
 * @p:		filled (memfd is -1: proc_write() fails); release with
 *		proc_close()
 *
 * Return: 0, -ESRCH (no such process), -EPERM (its maps are not ours to
 * read), or another -errno.
 */
int proc_open_maps(pid_t pid, struct proc *p)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->memfd = -1;
	if (pid <= 0)
		return -ESRCH;
	p->pid = pid;
	err = read_objects(pid, -1, &p->objs, &p->nobjs);
	if (err)
		p->pid = 0;
	return err;
}

/**
 * proc_close() - release a struct proc
 * @p:	the process view
 */
void proc_close(struct proc *p)
{
	for (size_t i = 0; i < p->nobjs; i++)
		obj_free(&p->objs[i]);
	free(p->objs);
	p->objs = NULL;
	p->nobjs = 0;
	if (p->memfd >= 0)
		close(p->memfd);
	p->memfd = -1;
}

/**
 * proc_refresh() - read /proc/PID/maps again (after an injection)
 * @p:	the process view
 *
 * Objects still mapped at the same place keep their symbol tables; pointers
 * into the old object array are invalid afterwards.
 *
 * Return: 0 or -errno (the old view is kept on failure).
 */
int proc_refresh(struct proc *p)
{
	struct proc_obj *objs;
	size_t n;
	int err;

	err = read_objects(p->pid, p->memfd, &objs, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < p->nobjs; j++) {
			struct proc_obj *o = &p->objs[j];

			if (o->elf_state == 0 ||
			    strcmp(o->path, objs[i].path) ||
			    o->map0_start != objs[i].map0_start ||
			    o->inode != objs[i].inode)
				continue;
			objs[i].elf = o->elf;
			objs[i].elf_state = o->elf_state;
			o->elf_state = 0;
			break;
		}
	}
	for (size_t j = 0; j < p->nobjs; j++)
		obj_free(&p->objs[j]);
	free(p->objs);
	p->objs = objs;
	p->nobjs = n;
	return 0;
}

/**
 * proc_find_obj() - a loaded object by base name prefix ("libc.so",
 * "ld-linux", "libuklp.so") or full path
 * @p:		the process view
 * @name:	prefix of the base name, or a path
 *
 * An exact base name match wins over a prefix match.
 *
 * Return: the object or NULL.
 */
struct proc_obj *proc_find_obj(struct proc *p, const char *name)
{
	struct proc_obj *prefix = NULL;
	size_t len = strlen(name);

	if (!len)
		return NULL;
	for (size_t i = 0; i < p->nobjs; i++) {
		const char *b = base_name(p->objs[i].path);

		if (strchr(name, '/')) {
			if (!strcmp(p->objs[i].path, name))
				return &p->objs[i];
			continue;
		}
		if (!strcmp(b, name))
			return &p->objs[i];
		if (!prefix && !strncmp(b, name, len))
			prefix = &p->objs[i];
	}
	return prefix;
}

/**
 * proc_obj_at() - the object whose mappings contain @addr
 * @p:		the process view
 * @addr:	address in the target
 *
 * Return: the object or NULL.
 */
struct proc_obj *proc_obj_at(struct proc *p, uintptr_t addr)
{
	for (size_t i = 0; i < p->nobjs; i++)
		if (addr >= p->objs[i].start && addr < p->objs[i].end)
			return &p->objs[i];
	return NULL;
}

/**
 * proc_main_obj() - the main executable's object (/proc/PID/exe)
 * @p:	the process view
 *
 * Return: the object or NULL.
 */
struct proc_obj *proc_main_obj(struct proc *p)
{
	char fn[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(fn, sizeof(fn), "/proc/%d/exe", (int)p->pid);
	n = readlink(fn, exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	for (size_t i = 0; i < p->nobjs; i++)
		if (!strcmp(p->objs[i].path, exe))
			return &p->objs[i];
	return NULL;
}

/**
 * proc_obj_elf() - the object's symbols (read once)
 * @o:	object
 *
 * The file is opened by its path when that is the mapped file, else
 * through /proc/PID/root or /proc/PID/map_files.
 *
 * Return: the table, or NULL.
 */
struct elfsym_file *proc_obj_elf(struct proc_obj *o)
{
	char path[PATH_MAX + 64];
	int err;

	if (o->elf_state == 1)
		return &o->elf;
	if (o->elf_state < 0)
		return NULL;
	err = obj_file_path(o, path, sizeof(path));
	if (!err)
		err = elfsym_open(path, &o->elf);
	if (err) {
		o->elf_state = err;
		return NULL;
	}
	o->elf_state = 1;
	return &o->elf;
}

/**
 * proc_obj_ident() - the type, DT_SONAME and build-id of an object's file
 * (elfsym_open_ident(); no symbols are read)
 * @o:	object
 * @f:	out; release with elfsym_close()
 *
 * The file is found as by proc_obj_elf(). Nothing is cached in @o.
 *
 * Return: 0 or -errno.
 */
int proc_obj_ident(const struct proc_obj *o, struct elfsym_file *f)
{
	char path[PATH_MAX + 64];
	int err;

	memset(f, 0, sizeof(*f));
	err = obj_file_path(o, path, sizeof(path));
	if (err)
		return err;
	return elfsym_open_ident(path, f);
}

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
	     uintptr_t *addr)
{
	struct proc_obj *o = proc_find_obj(p, objname);
	struct elfsym_file *f;
	struct elfsym_sym s;
	int err;

	if (!o)
		return -ENOENT;
	f = proc_obj_elf(o);
	if (!f)
		return o->elf_state < 0 ? o->elf_state : -ENOENT;
	err = elfsym_lookup(f, sym, 0, &s, NULL);
	if (err)
		return err;
	*addr = (uintptr_t)s.value + o->bias;
	return 0;
}

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
int proc_obj_exec_slack(const struct proc_obj *o, uintptr_t *start, size_t *len)
{
	const Elf64_Phdr *last = NULL;
	uintptr_t end, page_end;

	for (size_t i = 0; i < o->nphdrs; i++) {
		const Elf64_Phdr *ph = &o->phdrs[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (!last || ph->p_vaddr > last->p_vaddr)
			last = ph;
	}
	if (!last)
		return -ENOENT;
	/* Only the file-backed part is mapped from the r-x file pages. */
	end = last->p_vaddr + last->p_filesz + o->bias;
	page_end = (end + page_size() - 1) & ~(page_size() - 1);
	*start = end;
	*len = 0;
	if (last->p_memsz == last->p_filesz && end >= o->text_start &&
	    page_end <= o->text_end)
		*len = page_end - end;
	return 0;
}

static int read_mem(pid_t pid, int memfd, uintptr_t addr, void *buf, size_t len)
{
	struct iovec l = {buf, len}, r = {(void *)addr, len};
	size_t done = 0;
	ssize_t n;

	if (!len)
		return 0;
	n = process_vm_readv(pid, &l, 1, &r, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno == ESRCH)
		return -ESRCH;
	if (n > 0)
		done = (size_t)n;
	/* Pages process_vm_readv cannot read (PROT_NONE, execute-only):
	 * /proc/PID/mem reads them the way a debugger does. */
	if (memfd < 0)
		return n < 0 && errno == EPERM ? -EPERM : -EFAULT;
	while (done < len) {
		n = pread(memfd, (char *)buf + done, len - done,
			  (off_t)(addr + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno == ESRCH ? -ESRCH : -EFAULT;
		done += (size_t)n;
	}
	return 0;
}

/**
 * proc_read() - read target memory (process_vm_readv)
 * @p:		the process view
 * @addr:	target address
 * @buf:	destination
 * @len:	bytes
 *
 * Falls back to /proc/PID/mem for pages process_vm_readv cannot read.
 *
 * Return: 0 or -errno (-EFAULT when not all could be read).
 */
int proc_read(struct proc *p, uintptr_t addr, void *buf, size_t len)
{
	return read_mem(p->pid, p->memfd, addr, buf, len);
}

/**
 * proc_write() - write target memory, even read-only code (/proc/PID/mem)
 * @p:		the process view
 * @addr:	target address
 * @buf:	source
 * @len:	bytes
 *
 * Return: 0 or -errno (-EFAULT when an address is not mapped).
 */
int proc_write(struct proc *p, uintptr_t addr, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	if (p->memfd < 0)
		return -EBADF;
	while (done < len) {
		n = pwrite(p->memfd, (const char *)buf + done, len - done,
			   (off_t)(addr + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EIO ? -EFAULT : -errno;
		if (n == 0)
			return -EFAULT;
		done += (size_t)n;
	}
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* The numeric entries of a /proc directory, sorted. */
static int read_id_dir(const char *dir, pid_t **ids, size_t *n)
{
	pid_t *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*ids = NULL;
	*n = 0;
	d = opendir(dir);
	if (!d)
		return proc_errno(errno);
	while ((de = readdir(d))) {
		char *end;
		long t;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		t = strtol(de->d_name, &end, 10);
		if (*end || t <= 0 || t > INT_MAX)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = (pid_t)t;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), cmp_pid);
	*ids = v;
	*n = cnt;
	return 0;
}

/**
 * proc_tids() - the target's threads (/proc/PID/task)
 * @pid:	process
 * @tids:	out: malloc'ed array, sorted (the main thread first)
 * @n:		out: count
 *
 * Return: 0, -ESRCH or -errno.
 */
int proc_tids(pid_t pid, pid_t **tids, size_t *n)
{
	char fn[64];
	int err;

	snprintf(fn, sizeof(fn), "/proc/%d/task", (int)pid);
	err = read_id_dir(fn, tids, n);
	if (!err && !*n) {
		free(*tids);
		*tids = NULL;
		return -ESRCH;
	}
	return err;
}

/**
 * proc_pids() - every process of the system (the numeric entries of /proc;
 * one per thread group)
 * @pids:	out: malloc'ed array, sorted
 * @n:		out: count
 *
 * Return: 0 or -errno.
 */
int proc_pids(pid_t **pids, size_t *n)
{
	return read_id_dir("/proc", pids, n);
}
