// SPDX-License-Identifier: MIT
/*
 * threads.c - per-thread patch state words and the thread registry.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "threads.h"

__thread struct uklp_tls uklp_tls __attribute__((tls_model("initial-exec")));

long threads_tls_word_off;
int (*threads_unregistered_word)(pid_t tid, uint32_t *word);
void (*threads_registry_hook)(pid_t tid, uint32_t *word);
long threads_tls_countdown_off;
long threads_tls_readers_off;

struct reg_entry {
	pid_t tid;
	struct uklp_tls *tls;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg_entry *reg;
static size_t reg_n, reg_cap;
static pthread_key_t reg_key;
/* Bumped by threads_init() so TLS from before a re-init re-registers. */
static uint32_t reg_gen = 1;

pid_t threads_gettid(void)
{
	if (!uklp_tls.tid)
		uklp_tls.tid = (int32_t)syscall(SYS_gettid);
	return uklp_tls.tid;
}

/* Thread exit: drop the entry before the TLS block goes away. */
static void reg_exit(void *arg)
{
	pid_t tid = (pid_t)(uintptr_t)arg;

	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < reg_n; i++) {
		if (reg[i].tid == tid && reg[i].tls == &uklp_tls) {
			reg[i] = reg[--reg_n];
			if (threads_registry_hook)
				threads_registry_hook(tid, NULL);
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
}

int threads_init(void)
{
	char *tp = __builtin_thread_pointer();

	threads_tls_word_off = (char *)&uklp_tls.word - tp;
	threads_tls_countdown_off = (char *)&uklp_tls.countdown - tp;
	threads_tls_readers_off = (char *)&uklp_tls.readers - tp;
	if (pthread_key_create(&reg_key, reg_exit))
		return -EAGAIN;
	return 0;
}

/* Add the calling thread (reg_lock held). 0 or -ENOMEM. */
static int register_locked(pid_t tid)
{
	if (reg_n == reg_cap) {
		size_t cap = reg_cap ? reg_cap * 2 : 64;
		struct reg_entry *n = realloc(reg, cap * sizeof(*n));

		if (!n)
			return -ENOMEM; /* stays unregistered: treated as not
					 * switched */
		reg = n;
		reg_cap = cap;
	}
	/* A tid may be reused by a new thread with a recycled stack. */
	for (size_t i = 0; i < reg_n; i++) {
		if (reg[i].tid == tid) {
			reg[i] = reg[--reg_n];
			break;
		}
	}
	reg[reg_n].tid = tid;
	reg[reg_n].tls = &uklp_tls;
	reg_n++;
	if (threads_registry_hook)
		threads_registry_hook(tid, &uklp_tls.word);
	uklp_tls.regd_gen = reg_gen;
	return 0;
}

static int register_self(int wait)
{
	pid_t tid = threads_gettid();
	int ret;

	if (uklp_tls.regd_gen == reg_gen)
		return 0;
	if (!wait) {
		if (pthread_mutex_trylock(&reg_lock))
			return -EBUSY;
	} else {
		pthread_mutex_lock(&reg_lock);
	}
	ret = register_locked(tid);
	pthread_mutex_unlock(&reg_lock);
	if (!ret)
		pthread_setspecific(reg_key, (void *)(uintptr_t)tid);
	return ret;
}

int threads_register_self(void)
{
	return register_self(1);
}

int threads_try_register_self(void)
{
	return register_self(0);
}

static int entry_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct threads_entry *)a)->tid;
	pid_t y = ((const struct threads_entry *)b)->tid;

	return (x > y) - (x < y);
}

int threads_snapshot(struct threads_entry **out, size_t *n)
{
	struct threads_entry *v = NULL, *rv = NULL;
	size_t cnt = 0, cap = 0, rn = 0, rcap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir("/proc/self/task");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct threads_entry *nv = realloc(v, nc * sizeof(*nv));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		v[cnt].tid = (pid_t)atoi(de->d_name);
		v[cnt].known = 0;
		v[cnt].word = 0;
		cnt++;
	}
	closedir(d);

	/*
	 * The registered words, copied under the lock (a thread's TLS may go
	 * away once it is unregistered) in O(n), matched outside it: with
	 * many threads an O(n^2) match under the lock made every thread that
	 * registers wait whenever the holder was preempted.
	 */
	for (;;) {
		size_t want;

		pthread_mutex_lock(&reg_lock);
		want = reg_n;
		if (want <= rcap) {
			for (size_t k = 0; k < want; k++) {
				rv[k].tid = reg[k].tid;
				rv[k].known = 1;
				rv[k].word = __atomic_load_n(&reg[k].tls->word,
							     __ATOMIC_ACQUIRE);
			}
			rn = want;
			pthread_mutex_unlock(&reg_lock);
			break;
		}
		pthread_mutex_unlock(&reg_lock);
		free(rv);
		rcap = want + 64;
		rv = malloc(rcap * sizeof(*rv));
		if (!rv) {
			free(v);
			return -ENOMEM;
		}
	}
	if (rn)
		qsort(rv, rn, sizeof(*rv), entry_cmp);
	for (size_t i = 0; rn && i < cnt; i++) {
		struct threads_entry *e =
		    bsearch(&v[i], rv, rn, sizeof(*rv), entry_cmp);

		if (e) {
			v[i].known = 1;
			v[i].word = e->word;
		}
	}
	free(rv);
	/* Threads the tool switched through ptrace never registered. */
	for (size_t i = 0; i < cnt; i++)
		if (!v[i].known && threads_unregistered_word &&
		    !threads_unregistered_word(v[i].tid, &v[i].word))
			v[i].known = 1;
	*out = v;
	*n = cnt;
	return 0;
}

int threads_set_word(pid_t tid, uint32_t word)
{
	int ret = -ESRCH;

	pthread_mutex_lock(&reg_lock);
	for (size_t k = 0; k < reg_n; k++) {
		if (reg[k].tid == tid) {
			__atomic_store_n(&reg[k].tls->word, word,
					 __ATOMIC_RELEASE);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return ret;
}
