// SPDX-License-Identifier: MIT
/*
 * pingload.c - a PING load on a redis server, with per-window throughput
 * and latency around commands run while it goes on (bench/redis/run.sh:
 * `uklp load` and `uklp disable` of samples/redis into redis-server).
 *
 *   redis-pingload -p PORT [-H HOST] [-c CONNS] [-t THREADS] [-d SECONDS]
 *                  [-P SERVER_PID] [-o TIMELINE] [-x AT:COMMAND]...
 *
 * CONNS connections (default 50) spread over THREADS threads (default 1,
 * like redis-benchmark), each with one request in flight (pipelining depth
 * 1): send "*1\r\n$4\r\nPING\r\n", wait for the reply, send the next. Every
 * reply is timestamped (CLOCK_MONOTONIC) with its latency (from its
 * request's send) and sorted: "+PONG" is the original reply, any other
 * "+PONG..." status the patched one, anything else (an error reply, a
 * closed connection) an error. The load runs SECONDS (default 8) from the
 * moment every connection is open (time 0).
 *
 * Each -x AT:COMMAND runs COMMAND with /bin/sh -c at AT seconds (from the
 * main thread, which waits for it): its start and end times are those of
 * the fork and of the waitpid. For each command i, with S and E those
 * times, the replies are counted in three windows:
 *
 *   before  [S - 1 s, S)
 *   of      [S, S + 1 s), or [S, E) if the command took longer than 1 s
 *   after   the second that follows "of"
 *
 * and in the command's own interval [S, E) ("during"). Output, one line
 * each:
 *
 *   EVENT i start_s=S end_s=E dur_ms=D rc=RC switch_ms=F cmd=...
 *   WINDOW i name=NAME t0_s= t1_s= ops= ops_s= p50_us= p99_us= max_us=
 *          errors= original= patched= [srv_run_ms= srv_wait_ms=
 *          srv_stop_ms= cli_wait_ms=]
 *   TOTAL ops= ops_s= errors= original= patched= conns=
 *
 * (switch_ms: when the first reply of the other kind than the last one
 * before S arrived - patched after a load, original after a disable -
 * relative to S; -1 if none).
 *
 * On a shared machine a gap in the replies may be the server's doing, the
 * load generator's, or neither's turn on a CPU. With -P, a sampler thread
 * reads every 2 ms the scheduler statistics (/proc/.../schedstat: time on
 * a CPU, time waiting for one) of the server's main thread (thread
 * SERVER_PID of SERVER_PID: redis' event loop) and of this program's load
 * threads, and the server thread's state (/proc/.../stat; 't' is a ptrace
 * stop). Each WINDOW line then also has, in ms over the window: srv_run_ms,
 * srv_wait_ms (runnable, waiting for a CPU), srv_stop_ms (in a ptrace
 * stop: 2 ms per sample that saw one, so a sampler kept off the CPUs
 * undercounts), cli_wait_ms (the load threads' wait for a
 * CPU, summed).
 *
 * With -o, TIMELINE gets one line per 100 ms: "t_s ops ops_s p99_us max_us
 * errors patched", and with -P "srv_run_ms srv_wait_ms srv_stop_ms
 * cli_wait_ms".
 *
 * Exit status 0 when every reply was a PONG and every command exited 0, 1
 * otherwise, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 8
#define NS	   1000000000ull
#define REQ	   "*1\r\n$4\r\nPING\r\n"
#define PROBE_NS   2000000 /* the sampler's period */

enum kind { K_ORIG, K_PATCHED, K_ERROR };

struct sample {
	uint64_t t;   /* completion, ns since time 0 */
	uint32_t lat; /* latency, ns (saturated) */
	uint32_t kind;
};

struct conn {
	int fd;
	uint64_t sent; /* ns since time 0 of the request in flight */
	size_t len;
	char buf[256];
};

struct worker {
	pthread_t th;
	struct conn *conns;
	int nconns;
	int epfd;
	struct sample *s;
	size_t n, cap;
	int failed; /* a connection failed: no more requests on it */
};

/* One sample of the scheduler statistics (ns since time 0, ns). */
struct probe {
	uint64_t t;
	uint64_t srv_run, srv_wait, cli_wait;
	char srv_state;
};

struct event {
	double at;
	const char *cmd;
	uint64_t start, end;
	int rc;
};

static uint64_t t_zero;
static atomic_int stop;

/* The sampler's (-P). */
static int srv_pid;
static pid_t cli_tids[64];
static atomic_int ncli_tids;
static struct probe *probes;
static size_t nprobes, cap_probes;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static uint64_t rel_ns(void)
{
	return now_ns() - t_zero;
}

static int add_sample(struct worker *w, uint64_t t, uint64_t lat, int kind)
{
	struct sample *ns;

	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 65536;
		ns = realloc(w->s, w->cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		w->s = ns;
	}
	w->s[w->n].t = t;
	w->s[w->n].lat = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
	w->s[w->n].kind = kind;
	w->n++;
	return 0;
}

static int send_req(struct conn *c)
{
	ssize_t r;

	c->sent = rel_ns();
	r = send(c->fd, REQ, sizeof(REQ) - 1, MSG_NOSIGNAL);
	return r == sizeof(REQ) - 1 ? 0 : -1;
}

/* The reply is one line: "+PONG\r\n", "+PONG (...)\r\n", "-ERR ...\r\n". */
static int reply_kind(const char *line, size_t len)
{
	if (len == 5 && !memcmp(line, "+PONG", 5))
		return K_ORIG;
	if (len > 5 && !memcmp(line, "+PONG", 5))
		return K_PATCHED;
	return K_ERROR;
}

static void conn_fail(struct worker *w, struct conn *c, const char *why)
{
	fprintf(stderr, "redis-pingload: connection %d: %s\n", c->fd, why);
	add_sample(w, rel_ns(), 0, K_ERROR);
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	w->failed++;
}

static void on_readable(struct worker *w, struct conn *c)
{
	char *eol;
	ssize_t r;
	uint64_t t;
	size_t len;

	r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (r <= 0) {
		conn_fail(w, c, r ? strerror(errno) : "closed by the server");
		return;
	}
	c->len += (size_t)r;
	c->buf[c->len] = 0;
	eol = strstr(c->buf, "\r\n");
	if (!eol) {
		if (c->len == sizeof(c->buf) - 1)
			conn_fail(w, c, "reply line too long");
		return;
	}
	t = rel_ns();
	len = (size_t)(eol - c->buf);
	if (reply_kind(c->buf, len) == K_ERROR)
		fprintf(stderr, "redis-pingload: unexpected reply '%.*s'\n",
			(int)len, c->buf);
	add_sample(w, t, t - c->sent, reply_kind(c->buf, len));
	/* One request in flight: nothing may follow the reply. */
	if (c->len != len + 2) {
		conn_fail(w, c, "more data than one reply");
		return;
	}
	c->len = 0;
	if (!atomic_load(&stop) && send_req(c))
		conn_fail(w, c, "send failed");
}

static void *worker_main(void *arg)
{
	struct epoll_event ev[64];
	struct worker *w = arg;
	int i, n;

	i = atomic_fetch_add(&ncli_tids, 1);
	if (i < 64)
		cli_tids[i] = gettid();

	for (i = 0; i < w->nconns; i++)
		if (send_req(&w->conns[i]))
			conn_fail(w, &w->conns[i], "send failed");
	while (!atomic_load(&stop)) {
		n = epoll_wait(w->epfd, ev, 64, 50);
		for (i = 0; i < n; i++)
			on_readable(w, ev[i].data.ptr);
	}
	return NULL;
}

/* "RUN WAIT SLICES" of /proc/PID/task/TID/schedstat, in ns. */
static int read_schedstat(pid_t pid, pid_t tid, uint64_t *run, uint64_t *wait)
{
	char path[64], buf[128];
	unsigned long long r, w;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid,
		 (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu", &r, &w) != 2)
		return -1;
	*run = r;
	*wait = w;
	return 0;
}

/* The state letter of /proc/PID/stat (after the command's ')'). */
static char read_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static void *sampler_main(void *arg)
{
	struct timespec ts = {0, PROBE_NS};
	struct probe pr, *np;
	uint64_t r, w;
	int i, n;

	(void)arg;
	while (!atomic_load(&stop)) {
		memset(&pr, 0, sizeof(pr));
		pr.t = rel_ns();
		if (read_schedstat(srv_pid, srv_pid, &pr.srv_run, &pr.srv_wait))
			break; /* the server is gone */
		pr.srv_state = read_state(srv_pid);
		n = atomic_load(&ncli_tids);
		for (i = 0; i < n && i < 64; i++)
			if (!read_schedstat(getpid(), cli_tids[i], &r, &w))
				pr.cli_wait += w;
		if (nprobes == cap_probes) {
			cap_probes = cap_probes ? cap_probes * 2 : 8192;
			np = realloc(probes, cap_probes * sizeof(*np));
			if (!np)
				break;
			probes = np;
		}
		probes[nprobes++] = pr;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The sampler's figures over [t0, t1), in ms: "run wait stop cliwait". */
static void probe_window(uint64_t t0, uint64_t t1, double out[4])
{
	size_t i, a = SIZE_MAX, b = SIZE_MAX;
	uint64_t stop_ns = 0;

	for (i = 0; i < 4; i++)
		out[i] = -1;
	for (i = 0; i < nprobes; i++) {
		if (probes[i].t < t0)
			continue;
		if (probes[i].t > t1)
			break;
		if (a == SIZE_MAX)
			a = i;
		b = i;
		/* The nominal period per sample that saw a stop: a sampler
		 * kept off the CPUs undercounts, never stretches one. */
		if (probes[i].srv_state == 't' || probes[i].srv_state == 'T')
			stop_ns += PROBE_NS;
	}
	if (a == SIZE_MAX || b == a)
		return;
	out[0] = (double)(probes[b].srv_run - probes[a].srv_run) / 1e6;
	out[1] = (double)(probes[b].srv_wait - probes[a].srv_wait) / 1e6;
	out[2] = (double)stop_ns / 1e6;
	out[3] = (double)(probes[b].cli_wait - probes[a].cli_wait) / 1e6;
}

static int connect_to(const char *host, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, one = 1;

	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "redis-pingload: bad IPv4 address %s\n", host);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "redis-pingload: connect %s:%d: %s\n", host,
			port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int run_event(struct event *e)
{
	pid_t pid;
	int st;

	e->start = rel_ns();
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		execl("/bin/sh", "sh", "-c", e->cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	e->end = rel_ns();
	e->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	size_t ops, kinds[3];
	double ops_s;
	uint32_t p50, p99, max;
};

/* Replies completed in [t0, t1); latencies of the PONGs only. */
static struct stats window(struct sample *all, size_t n, uint64_t t0,
			   uint64_t t1, uint32_t *tmp)
{
	struct stats st = {0};
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		if (all[i].t < t0 || all[i].t >= t1)
			continue;
		st.ops++;
		st.kinds[all[i].kind]++;
		if (all[i].kind != K_ERROR)
			tmp[m++] = all[i].lat;
	}
	st.ops_s = t1 > t0 ? (double)st.ops * NS / (double)(t1 - t0) : 0;
	if (m) {
		qsort(tmp, m, sizeof(*tmp), cmp_u32);
		st.p50 = tmp[(m - 1) / 2];
		st.p99 = tmp[(size_t)((double)(m - 1) * 0.99)];
		st.max = tmp[m - 1];
	}
	return st;
}

static void print_window(int i, const char *name, uint64_t t0, uint64_t t1,
			 struct stats st)
{
	double pw[4];

	printf("WINDOW %d name=%s t0_s=%.3f t1_s=%.3f ops=%zu ops_s=%.0f "
	       "p50_us=%.0f p99_us=%.0f max_us=%.0f errors=%zu original=%zu "
	       "patched=%zu",
	       i, name, (double)t0 / NS, (double)t1 / NS, st.ops, st.ops_s,
	       st.p50 / 1e3, st.p99 / 1e3, st.max / 1e3, st.kinds[K_ERROR],
	       st.kinds[K_ORIG], st.kinds[K_PATCHED]);
	if (srv_pid) {
		probe_window(t0, t1, pw);
		printf(" srv_run_ms=%.1f srv_wait_ms=%.1f srv_stop_ms=%.1f "
		       "cli_wait_ms=%.1f",
		       pw[0], pw[1], pw[2], pw[3]);
	}
	printf("\n");
}

static int cmp_sample(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: redis-pingload -p PORT [-H HOST] [-c CONNS] "
		"[-t THREADS] [-d SECONDS] [-P SERVER_PID] [-o TIMELINE] "
		"[-x AT:COMMAND]...\n");
	exit(2);
}

static void report(struct worker *w, int nthreads, struct event *ev, int nev,
		   uint64_t end, const char *timeline, int conns)
{
	struct sample *all;
	struct stats st;
	uint32_t *tmp;
	size_t n = 0, i, k;
	uint64_t t, t1;
	FILE *f;
	int j;

	for (j = 0; j < nthreads; j++)
		n += w[j].n;
	all = malloc((n + 1) * sizeof(*all));
	tmp = malloc((n + 1) * sizeof(*tmp));
	if (!all || !tmp) {
		fprintf(stderr, "redis-pingload: out of memory\n");
		exit(1);
	}
	for (j = 0, k = 0; j < nthreads; j++) {
		memcpy(all + k, w[j].s, w[j].n * sizeof(*all));
		k += w[j].n;
	}
	qsort(all, n, sizeof(*all), cmp_sample);

	for (j = 0; j < nev; j++) {
		struct event *e = &ev[j];
		double sw = -1;
		uint32_t k0 = K_ERROR;

		for (i = 0; i < n; i++) {
			if (all[i].kind == K_ERROR)
				continue;
			if (all[i].t < e->start) {
				k0 = all[i].kind;
			} else if (k0 != K_ERROR && all[i].kind != k0) {
				sw = (double)(all[i].t - e->start) / 1e6;
				break;
			}
		}
		printf("EVENT %d start_s=%.3f end_s=%.3f dur_ms=%.1f rc=%d "
		       "switch_ms=%.1f cmd=%s\n",
		       j, (double)e->start / NS, (double)e->end / NS,
		       (double)(e->end - e->start) / 1e6, e->rc, sw, e->cmd);
		t = e->start >= NS ? e->start - NS : 0;
		print_window(j, "before", t, e->start,
			     window(all, n, t, e->start, tmp));
		t1 = e->end - e->start > NS ? e->end : e->start + NS;
		print_window(j, "of", e->start, t1,
			     window(all, n, e->start, t1, tmp));
		print_window(j, "after", t1, t1 + NS,
			     window(all, n, t1, t1 + NS, tmp));
		print_window(j, "during", e->start, e->end,
			     window(all, n, e->start, e->end, tmp));
	}
	st = window(all, n, 0, end, tmp);
	printf("TOTAL ops=%zu ops_s=%.0f errors=%zu original=%zu patched=%zu "
	       "conns=%d\n",
	       st.ops, st.ops_s, st.kinds[K_ERROR], st.kinds[K_ORIG],
	       st.kinds[K_PATCHED], conns);
	if (timeline) {
		f = fopen(timeline, "w");
		if (!f) {
			perror(timeline);
			exit(1);
		}
		fprintf(f, "# t_s ops ops_s p99_us max_us errors patched%s\n",
			srv_pid ? " srv_run_ms srv_wait_ms srv_stop_ms "
				  "cli_wait_ms"
				: "");
		for (t = 0; t < end; t += NS / 10) {
			double pw[4];

			st = window(all, n, t, t + NS / 10, tmp);
			fprintf(f, "%.1f %zu %.0f %.0f %.0f %zu %zu",
				(double)t / NS, st.ops, st.ops_s, st.p99 / 1e3,
				st.max / 1e3, st.kinds[K_ERROR],
				st.kinds[K_PATCHED]);
			if (srv_pid) {
				probe_window(t, t + NS / 10, pw);
				fprintf(f, " %.1f %.1f %.1f %.1f", pw[0], pw[1],
					pw[2], pw[3]);
			}
			fprintf(f, "\n");
		}
		fclose(f);
	}
	free(all);
	free(tmp);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *timeline = NULL;
	int port = 0, nconns = 50, nthreads = 1, nev = 0, opt, i, j, bad = 0;
	struct event ev[MAX_EVENTS];
	double dur = 8;
	struct worker *w;
	pthread_t sampler;
	struct epoll_event ee;
	uint64_t end, until;
	char *colon;
	size_t errs = 0;

	while ((opt = getopt(argc, argv, "H:p:c:t:d:P:o:x:")) != -1) {
		switch (opt) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			nconns = atoi(optarg);
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'd':
			dur = atof(optarg);
			break;
		case 'o':
			timeline = optarg;
			break;
		case 'P':
			srv_pid = atoi(optarg);
			break;
		case 'x':
			colon = strchr(optarg, ':');
			if (!colon || nev == MAX_EVENTS)
				usage();
			*colon = 0;
			ev[nev].at = atof(optarg);
			ev[nev].cmd = colon + 1;
			ev[nev].rc = -1;
			nev++;
			break;
		default:
			usage();
		}
	}
	if (port <= 0 || nconns <= 0 || nthreads <= 0 || nthreads > nconns ||
	    dur <= 0 || optind != argc)
		usage();

	w = calloc((size_t)nthreads, sizeof(*w));
	if (!w)
		return 1;
	for (j = 0; j < nthreads; j++) {
		w[j].nconns = nconns / nthreads + (j < nconns % nthreads);
		w[j].conns = calloc((size_t)w[j].nconns, sizeof(struct conn));
		w[j].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (!w[j].conns || w[j].epfd < 0)
			return 1;
		for (i = 0; i < w[j].nconns; i++) {
			w[j].conns[i].fd = connect_to(host, port);
			if (w[j].conns[i].fd < 0)
				return 1;
			ee.events = EPOLLIN;
			ee.data.ptr = &w[j].conns[i];
			if (epoll_ctl(w[j].epfd, EPOLL_CTL_ADD,
				      w[j].conns[i].fd, &ee))
				return 1;
		}
	}
	t_zero = now_ns();
	if (srv_pid && pthread_create(&sampler, NULL, sampler_main, NULL)) {
		fprintf(stderr, "redis-pingload: pthread_create failed\n");
		return 1;
	}
	for (j = 0; j < nthreads; j++)
		if (pthread_create(&w[j].th, NULL, worker_main, &w[j])) {
			fprintf(stderr,
				"redis-pingload: pthread_create failed\n");
			return 1;
		}
	for (j = 0; j < nev; j++) {
		until = (uint64_t)(ev[j].at * NS);
		while (rel_ns() < until)
			usleep(1000);
		if (run_event(&ev[j]))
			ev[j].rc = 127;
	}
	end = (uint64_t)(dur * NS);
	while (rel_ns() < end)
		usleep(10000);
	atomic_store(&stop, 1);
	if (srv_pid)
		pthread_join(sampler, NULL);
	for (j = 0; j < nthreads; j++) {
		pthread_join(w[j].th, NULL);
		bad += w[j].failed;
		for (size_t k = 0; k < w[j].n; k++)
			errs += w[j].s[k].kind == K_ERROR;
	}
	report(w, nthreads, ev, nev, end, timeline, nconns);
	for (j = 0; j < nev; j++)
		bad += ev[j].rc != 0;
	return bad || errs ? 1 : 0;
}
