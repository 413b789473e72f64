// SPDX-License-Identifier: MIT
/*
 * cmdline-server.c - the program the demo live patches.
 *
 * The kernel's samples/livepatch replace cmdline_proc_show(), the function
 * behind /proc/cmdline. This is its user-space stand-in: a small
 * multi-threaded server whose every answer is what cmdline_show() returns.
 *
 *	cmdline-server ADDR [NTHREADS]
 *
 * ADDR is a UNIX socket path, or IPV4:PORT (127.0.0.1:7777). NTHREADS
 * worker threads (default 4) accept connections on it; each connection gets
 * one line, cmdline_show() and a newline, and is closed. SIGTERM, SIGINT or
 * SIGHUP stop the server: it says how many requests each worker answered,
 * removes its socket file and exits 0.
 *
 * It is an ordinary program: it does not link libuklp and runs without
 * LD_PRELOAD. It is only built with -fpatchable-function-entry=16,14, so
 * that `uklp load PID livepatch-sample.so` can replace cmdline_show() while
 * it runs, without a restart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_WORKERS 4
#define MAX_WORKERS	64

/*
 * A function to live patch: never inlined, and never analysed by its
 * callers (gcc would otherwise see that it returns a constant and use the
 * constant instead of calling it).
 */
#ifdef __clang__
#define PATCHABLE __attribute__((noinline, optnone, used))
#else
#define PATCHABLE __attribute__((noinline, noipa, used))
#endif

struct worker {
	pthread_t thread;
	int id;
	int fd; /* the listening socket */
	atomic_ulong served;
};

/**
 * cmdline_show() - what the server answers (the kernel's cmdline_proc_show)
 *
 * livepatch-sample.so replaces it.
 *
 * Return: the "kernel command line" of this server.
 */
PATCHABLE const char *cmdline_show(void)
{
	return "BOOT_IMAGE=/vmlinuz-uklp root=/dev/sda1 ro quiet";
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cmdline-server ADDR [NTHREADS]\n"
		"  ADDR: a UNIX socket path, or IPV4:PORT (127.0.0.1:7777)\n"
		"  NTHREADS: worker threads, 1..%d (default %d)\n",
		MAX_WORKERS, DEFAULT_WORKERS);
	exit(2);
}

/* Is @addr IPV4:PORT? Then fill @sin. */
static int parse_inet(const char *addr, struct sockaddr_in *sin)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(addr, ':');
	char *end;
	unsigned long port;

	if (!colon || strchr(addr, '/') ||
	    (size_t)(colon - addr) >= sizeof(host))
		return 0;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		return 0;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1;
}

/*
 * Make a stale socket file at @path go away: one left by a server that
 * died. One that a live server still answers on is kept (bind then fails).
 */
static void remove_stale_socket(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd;

	if (lstat(sun->sun_path, &st) || !S_ISSOCK(st.st_mode))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) &&
	    errno == ECONNREFUSED)
		unlink(sun->sun_path);
	close(fd);
}

/* Listen on @addr; *@unix_path is set when it is a UNIX socket. */
static int listen_on(const char *addr, const char **unix_path)
{
	struct sockaddr_in sin;
	struct sockaddr_un sun;
	int fd, one = 1;

	*unix_path = NULL;
	if (parse_inet(addr, &sin)) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
			goto err;
	} else {
		if (strlen(addr) >= sizeof(sun.sun_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strcpy(sun.sun_path, addr);
		remove_stale_socket(&sun);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)))
			goto err;
		*unix_path = addr;
	}
	if (listen(fd, 64))
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

/* Answer one request: the line, whole, or nothing if the client left. */
static void answer(int fd)
{
	char line[512];
	const char *p = line;
	int len;

	len = snprintf(line, sizeof(line), "%s\n", cmdline_show());
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line))
		len = sizeof(line) - 1;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "worker-%d", w->id);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				usleep(10000);
				continue;
			}
			perror("cmdline-server: accept");
			return NULL;
		}
		answer(fd);
		close(fd);
		atomic_fetch_add(&w->served, 1);
	}
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_WORKERS];
	const char *unix_path;
	unsigned long total = 0;
	long nworkers = DEFAULT_WORKERS;
	sigset_t stop;
	int fd, i, err, sig;

	if (argc < 2 || argc > 3 || argv[1][0] == '-')
		usage();
	if (argc == 3) {
		char *end;

		nworkers = strtol(argv[2], &end, 10);
		if (*end || nworkers < 1 || nworkers > MAX_WORKERS)
			usage();
	}

	/*
	 * Only the main thread takes the stop signals (the workers inherit
	 * the mask), with sigwait(): no handler runs in the middle of a
	 * worker.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	fd = listen_on(argv[1], &unix_path);
	if (fd < 0) {
		fprintf(stderr, "cmdline-server: cannot listen on %s: %s\n",
			argv[1], strerror(errno));
		return 1;
	}
	for (i = 0; i < nworkers; i++) {
		workers[i].id = i + 1;
		workers[i].fd = fd;
		err = pthread_create(&workers[i].thread, NULL, worker_fn,
				     &workers[i]);
		if (err) {
			fprintf(stderr, "cmdline-server: pthread_create: %s\n",
				strerror(err));
			if (unix_path)
				unlink(unix_path);
			return 1;
		}
	}
	printf("cmdline-server: pid %d, %ld worker threads, listening on %s\n",
	       (int)getpid(), nworkers, argv[1]);
	fflush(stdout);

	while (sigwait(&stop, &sig))
		;
	printf("cmdline-server: %s, stopping; requests answered:",
	       strsignal(sig));
	for (i = 0; i < nworkers; i++) {
		unsigned long n = atomic_load(&workers[i].served);

		printf(" worker-%d %lu,", workers[i].id, n);
		total += n;
	}
	printf(" total %lu\n", total);
	fflush(stdout);
	if (unix_path)
		unlink(unix_path);
	/* The workers sleep in accept(): exit() ends them. */
	return 0;
}
