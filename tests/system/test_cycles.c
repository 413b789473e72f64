// SPDX-License-Identifier: MIT
/*
 * test_cycles - 10,000 load/disable cycles in one process leak nothing.
 *
 * The main thread loads consistency_patch.so (tests/system), waits for the
 * transition, disables the patch and waits again, CYCLES times, while one
 * thread calls chain_f() in a hot loop. After cycle 100 (warm-up) and at
 * the checkpoints below it records the resident set (/proc/self/statm), the
 * number of mappings (/proc/self/maps), the runtime's trampolines and sites
 * (uklp_ctl_stats()) and the open file descriptors (/proc/self/fd), then
 * prints them as a table with the elapsed time.
 *
 * Fails when a control call fails, when the main thread's chain_f() does
 * not return the version just installed or removed, or when at the end the
 * mappings, trampolines, sites or descriptors differ from cycle 100 or the
 * resident set grew by more than RSS_SLACK_KIB. Chains that mixed versions
 * are only reported: that is test_consistency's scenario.
 *
 * Usage: test_cycles [SCRATCH_DIR] (unused); consistency_patch.so is taken
 * from the directory of this program.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uklp/control.h>
#include <uklp/livepatch.h>

#include "chain.h"

#define CYCLES	      10000
#define BASE_CYCLE    100
#define WAIT_MS	      5000
#define QUIESCE_MS    2000
#define RSS_SLACK_KIB 512

static const int checkpoints[] = {BASE_CYCLE, 1000, 5000, CYCLES};
#define NCHECK (sizeof(checkpoints) / sizeof(checkpoints[0]))

struct sample {
	int cycle;
	double elapsed;
	long rss_kib;
	long maps;
	long trampolines;
	long sites;
	long fds;
	long threads;
	char *maps_text; /* /proc/self/maps then, for the report */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Entries of a /proc directory, without "." and ".."; -1 on error. */
static long count_dir(const char *path)
{
	struct dirent *de;
	long n = 0;
	DIR *d = opendir(path);

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* /proc/self/maps as one malloc()ed string; NULL on error. */
static char *read_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int c;

	if (!f)
		return NULL;
	while ((c = getc(f)) != EOF) {
		if (len + 2 > cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nbuf;
			cap = ncap;
		}
		buf[len++] = (char)c;
	}
	fclose(f);
	if (!buf)
		return calloc(1, 1);
	buf[len] = '\0';
	return buf;
}

/* Lines of @text; -1 when there is none (read error). */
static long count_lines(const char *text)
{
	long n = 0;

	if (!text)
		return -1;
	for (; *text; text++)
		if (*text == '\n')
			n++;
	return n;
}

/* Print each line of @a that @b does not have, after @tag. */
static void print_missing(const char *a, const char *b, const char *tag)
{
	for (const char *l = a; *l;) {
		const char *e = strchrnul(l, '\n');
		size_t n = (size_t)(e - l);
		bool found = false;

		for (const char *m = b; *m && !found;) {
			const char *f = strchrnul(m, '\n');

			found = (size_t)(f - m) == n && !memcmp(l, m, n);
			m = *f ? f + 1 : f;
		}
		if (!found)
			printf("%s%.*s\n", tag, (int)n, l);
		l = *e ? e + 1 : e;
	}
}

/* Resident set size in KiB (/proc/self/statm); -1 on error. */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size, resident;
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%ld %ld", &size, &resident);
	fclose(f);
	if (n != 2)
		return -1;
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * Wait until the runtime is idle: no patch, no transition and only our two
 * threads (the runtime's transition worker has closed the patch and left).
 */
static void quiesce(void)
{
	double end = now() + QUIESCE_MS / 1000.0;
	struct timespec ts = {0, 1000 * 1000};

	while (now() < end) {
		struct uklp_stats st;

		uklp_ctl_stats(&st);
		if (!st.patches && !st.transition &&
		    count_dir("/proc/self/task") == 2)
			return;
		nanosleep(&ts, NULL);
	}
}

static void take_sample(struct sample *s, int cycle, double t0)
{
	struct uklp_stats st;

	quiesce();
	uklp_ctl_stats(&st);
	s->cycle = cycle;
	s->elapsed = now() - t0;
	s->rss_kib = rss_kib();
	s->maps_text = read_maps();
	s->maps = count_lines(s->maps_text);
	s->trampolines = st.trampolines;
	s->sites = st.sites;
	/* the directory's own descriptor is open while it is read */
	s->fds = count_dir("/proc/self/fd") - 1;
	s->threads = count_dir("/proc/self/task");
	printf("cycle %5d: %.1f s, rss %ld KiB, maps %ld, trampolines %ld, "
	       "sites %ld, fds %ld, threads %ld\n",
	       s->cycle, s->elapsed, s->rss_kib, s->maps, s->trampolines,
	       s->sites, s->fds, s->threads);
}

static int run_cycles(const char *path, struct sample *s, size_t *ns, double t0)
{
	size_t next = 0;

	for (int i = 0; i < CYCLES; i++) {
		if (ctl_check(uklp_ctl_load(path, 0), "uklp_ctl_load", i) ||
		    ctl_check(uklp_ctl_wait(WAIT_MS),
			      "uklp_ctl_wait (patching)", i) ||
		    chain_check(CHAIN_NEW, "patching", i) ||
		    ctl_check(uklp_ctl_disable(PATCH_NAME), "uklp_ctl_disable",
			      i) ||
		    ctl_check(uklp_ctl_wait(WAIT_MS),
			      "uklp_ctl_wait (unpatching)", i) ||
		    chain_check(CHAIN_OLD, "unpatching", i))
			return -1;
		if (next < NCHECK && i + 1 == checkpoints[next]) {
			take_sample(&s[next], i + 1, t0);
			*ns = ++next;
		}
	}
	return 0;
}

/* Compare the last sample with the first (cycle BASE_CYCLE). */
static bool check_leaks(const struct sample *s, size_t ns)
{
	const struct sample *a = &s[0], *b = &s[ns - 1];
	bool ok = true;

	if (ns < NCHECK)
		return false;
	if (b->maps != a->maps) {
		printf("FAIL: mappings %ld at cycle %d, %ld at cycle %d\n",
		       a->maps, a->cycle, b->maps, b->cycle);
		if (a->maps_text && b->maps_text) {
			print_missing(a->maps_text, b->maps_text, "  gone: ");
			print_missing(b->maps_text, a->maps_text, "  new:  ");
		}
		ok = false;
	}
	if (b->trampolines != a->trampolines) {
		printf("FAIL: trampolines %ld at cycle %d, %ld at cycle %d\n",
		       a->trampolines, a->cycle, b->trampolines, b->cycle);
		ok = false;
	}
	if (b->sites != a->sites) {
		printf("FAIL: sites %ld at cycle %d, %ld at cycle %d\n",
		       a->sites, a->cycle, b->sites, b->cycle);
		ok = false;
	}
	if (b->fds != a->fds) {
		printf("FAIL: open fds %ld at cycle %d, %ld at cycle %d\n",
		       a->fds, a->cycle, b->fds, b->cycle);
		ok = false;
	}
	if (a->rss_kib < 0 || b->rss_kib < 0 ||
	    b->rss_kib - a->rss_kib > RSS_SLACK_KIB) {
		printf("FAIL: rss %ld KiB at cycle %d, %ld KiB at cycle %d "
		       "(more than %d KiB growth)\n",
		       a->rss_kib, a->cycle, b->rss_kib, b->cycle,
		       RSS_SLACK_KIB);
		ok = false;
	}
	return ok;
}

int main(int argc, char **argv)
{
	struct sample s[NCHECK];
	struct hammer h = {.update_every = 4096};
	char path[PATH_MAX];
	size_t ns = 0;
	bool ok = true;
	double t0;
	int ret;

	(void)argc;
	(void)argv;
	memset(s, 0, sizeof(s));
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = patch_path(path, sizeof(path));
	if (ret || access(path, R_OK)) {
		printf("FAIL: no patch %s\n", ret ? "path" : path);
		return 1;
	}

	ret = pthread_create(&h.thread, NULL, hammer_fn, &h);
	if (ret) {
		printf("FAIL: pthread_create: %s\n", strerror(ret));
		return 1;
	}
	t0 = now();
	if (run_cycles(path, s, &ns, t0))
		ok = false;

	/* Always stop and join the thread, whatever happened above. */
	atomic_store(&stop, true);
	pthread_join(h.thread, NULL);

	printf("\n%6s %9s %9s %6s %12s %6s %4s\n", "cycle", "time(s)",
	       "rss(KiB)", "maps", "trampolines", "sites", "fds");
	for (size_t i = 0; i < ns; i++)
		printf("%6d %9.1f %9ld %6ld %12ld %6ld %4ld\n", s[i].cycle,
		       s[i].elapsed, s[i].rss_kib, s[i].maps, s[i].trampolines,
		       s[i].sites, s[i].fds);
	printf("cycles: %d cycles in %.1f s, %lu chains, old %lu, new %lu, "
	       "mixed %lu\n",
	       ns ? s[ns - 1].cycle : 0, now() - t0, h.chains, h.old, h.new,
	       h.mixed);

	/* Mixed chains are test_consistency's verdict; reported here only. */
	if (h.mixed)
		printf("note: %lu mixed chains, first %#x (see "
		       "test_consistency)\n",
		       h.mixed, h.first_mixed);
	if (ok && !check_leaks(s, ns))
		ok = false;
	for (size_t i = 0; i < ns; i++)
		free(s[i].maps_text);
	printf("%s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
