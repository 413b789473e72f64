// SPDX-License-Identifier: MIT
/*
 * snapshot.c - what a process looks like from outside, to tell whether a
 * command changed it: build/tests/tool/snapshot PID.
 *
 * Prints one line per mapping of /proc/PID/maps,
 *	map START-END PERMS OFFSET PATH
 * then, for every executable mapping (file-backed or anonymous, but not
 * the kernel's [vdso]/[vsyscall]), a hash of its bytes read with
 * process_vm_readv(2) (or /proc/PID/mem when that fails),
 *	hash START-END PATH FNV1A64
 * Equal output before and after a command means the command changed
 * neither the mappings nor the code of the process. The process is not
 * stopped: the caller makes sure nothing in it maps or patches meanwhile.
 *
 * Exit status 0, 1 on error (no such process, no permission, unreadable
 * mapping), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK	   (1u << 20)
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull

struct mapping {
	uintptr_t start, end;
	char perms[8];
	unsigned long long off;
	char path[4096];
};

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Read @n bytes at @addr of @pid into @buf: process_vm_readv, else mem. */
static int read_mem(pid_t pid, int memfd, uintptr_t addr, void *buf, size_t n)
{
	struct iovec local = {buf, n};
	struct iovec remote = {(void *)addr, n};
	ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	size_t done = 0;

	if (r == (ssize_t)n)
		return 0;
	if (memfd < 0)
		return -1;
	while (done < n) {
		r = pread(memfd, (char *)buf + done, n - done,
			  (off_t)(addr + done));
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int hash_mapping(pid_t pid, int memfd, const struct mapping *m,
			unsigned char *buf, uint64_t *out)
{
	uint64_t h = FNV_OFFSET;

	for (uintptr_t a = m->start; a < m->end; a += CHUNK) {
		size_t n = m->end - a < CHUNK ? m->end - a : CHUNK;

		if (read_mem(pid, memfd, a, buf, n))
			return -1;
		h = fnv1a(h, buf, n);
	}
	*out = h;
	return 0;
}

static int parse_line(const char *line, struct mapping *m)
{
	int pos = 0;

	m->path[0] = '\0';
	if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %*s %*s%n",
		   &m->start, &m->end, m->perms, &m->off, &pos) < 4)
		return -1;
	line += pos;
	while (*line == ' ' || *line == '\t')
		line++;
	snprintf(m->path, sizeof(m->path), "%s", line);
	m->path[strcspn(m->path, "\n")] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	struct mapping *maps = NULL, *tmp;
	size_t n = 0, cap = 0;
	char path[64], *line = NULL, *end;
	size_t lcap = 0;
	unsigned char *buf;
	int memfd, ret = 0;
	long pid;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PID\n", argv[0]);
		return 2;
	}
	errno = 0;
	pid = strtol(argv[1], &end, 10);
	if (errno || *end || pid <= 0) {
		fprintf(stderr, "snapshot: bad PID '%s'\n", argv[1]);
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "snapshot: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (getline(&line, &lcap, f) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			tmp = realloc(maps, cap * sizeof(*maps));
			if (!tmp) {
				fprintf(stderr, "snapshot: out of memory\n");
				return 1;
			}
			maps = tmp;
		}
		if (parse_line(line, &maps[n])) {
			fprintf(stderr, "snapshot: cannot parse: %s", line);
			return 1;
		}
		n++;
	}
	free(line);
	if (ferror(f) || n == 0) {
		fprintf(stderr, "snapshot: cannot read %s\n", path);
		return 1;
	}
	fclose(f);

	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	memfd = open(path, O_RDONLY | O_CLOEXEC);
	buf = malloc(CHUNK);
	if (!buf) {
		fprintf(stderr, "snapshot: out of memory\n");
		return 1;
	}
	/*
	 * The end of [heap] is left out: it is malloc's, it moves whenever
	 * any thread of the target allocates or frees, and a refused load,
	 * which frees what it read, cannot put glibc's top chunk back where
	 * it was. Its start, every other mapping and all code are compared.
	 */
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(maps[i].path, "[heap]"))
			printf("map %" PRIxPTR "-(end) %s %llx %s\n",
			       maps[i].start, maps[i].perms, maps[i].off,
			       maps[i].path);
		else
			printf("map %" PRIxPTR "-%" PRIxPTR " %s %llx %s\n",
			       maps[i].start, maps[i].end, maps[i].perms,
			       maps[i].off, maps[i].path);
	}
	for (size_t i = 0; i < n; i++) {
		const struct mapping *m = &maps[i];
		uint64_t h;

		if (m->perms[2] != 'x' || !strcmp(m->path, "[vdso]") ||
		    !strcmp(m->path, "[vsyscall]"))
			continue;
		if (hash_mapping((pid_t)pid, memfd, m, buf, &h)) {
			fprintf(stderr,
				"snapshot: cannot read %" PRIxPTR "-%" PRIxPTR
				" %s of process %ld: %s\n",
				m->start, m->end, m->path, pid,
				strerror(errno));
			ret = 1;
			continue;
		}
		printf("hash %" PRIxPTR "-%" PRIxPTR " %s %016" PRIx64 "\n",
		       m->start, m->end, m->path, h);
	}
	free(buf);
	free(maps);
	if (memfd >= 0)
		close(memfd);
	if (fflush(stdout) || ferror(stdout))
		ret = 1;
	return ret;
}
