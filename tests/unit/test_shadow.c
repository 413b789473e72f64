/* SPDX-License-Identifier: MIT */
/*
 * test_shadow - the shadow variable API (runtime/shadow.c).
 *
 * Passes 0-6 port the kernel's selftest module test_klp_shadow_vars.c
 * (tools/testing/selftests/livepatch/test-shadow-vars.sh); the rest nchecks
 * duplicates, constructor nfailed, callbacks that use the API, many
 * variables per bucket and 8 threads working on the same keys.
 *
 * Prints one line per check; exits 0 when all pass.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uklp/livepatch.h>
#include "check.h"

/*
 * The runtime's message ring is not linked in: remember the last message.
 * Weak, so that the real uklp_printk() wins if the runtime is linked too.
 */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_last[256];
static int log_level, log_count;

__attribute__((weak)) void uklp_printk(int level, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&log_lock);
	va_start(ap, fmt);
	vsnprintf(log_last, sizeof(log_last), fmt, ap);
	va_end(ap);
	log_last[strcspn(log_last, "\n")] = '\0';
	log_level = level;
	log_count++;
	pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_last[0] = '\0';
	log_level = 0;
	log_count = 0;
	pthread_mutex_unlock(&log_lock);
}

/* Passes 0-6: test_klp_shadow_vars.c */

#define NUM_OBJS 3
#define SV_ID1	 0x1234
#define SV_ID2	 0x1235

struct test_object {
	int unused; /* shadow variables add "fields" to it */
};

static int ctor_calls, dtor_calls;
static void *dtor_seen[2 * NUM_OBJS];

/* Remember a pointer: *shadow_data = *ctor_data, as the kernel's test. */
static int shadow_ctor(void *obj, void *shadow_data, void *ctor_data)
{
	void **sv = shadow_data;
	void **var = ctor_data;

	if (!var)
		return -EINVAL;
	*sv = *var;
	ctor_calls++;
	return 0;
}

static void shadow_dtor(void *obj, void *shadow_data)
{
	if (dtor_calls < 2 * NUM_OBJS)
		dtor_seen[dtor_calls] = shadow_data;
	dtor_calls++;
}

static bool dtor_saw(void *shadow_data)
{
	int i;

	for (i = 0; i < dtor_calls && i < 2 * NUM_OBJS; i++) {
		if (dtor_seen[i] == shadow_data)
			return true;
	}
	return false;
}

static void test_kernel_passes(void)
{
	struct test_object objs[NUM_OBJS];
	char nfields1[NUM_OBJS], *pnfields1[NUM_OBJS], **sv1[NUM_OBJS];
	char *pndup[NUM_OBJS];
	int nfields2[NUM_OBJS], *pnfields2[NUM_OBJS], **sv2[NUM_OBJS];
	void **sv;
	bool ok;
	int i;

	/* pass 0: an empty table finds nothing */
	sv = klp_shadow_get(&objs[0], SV_ID1);
	check(!sv, "pass 0: klp_shadow_get(obj0, 0x%x) on empty table = NULL",
	      SV_ID1);

	/* pass 1: a char * and an int * shadow variable for each object */
	ctor_calls = 0;
	ok = true;
	for (i = 0; i < NUM_OBJS; i++) {
		pnfields1[i] = &nfields1[i];
		if (i % 2)
			sv1[i] = klp_shadow_alloc(&objs[i], SV_ID1,
						  sizeof(pnfields1[i]),
						  shadow_ctor, &pnfields1[i]);
		else
			sv1[i] = klp_shadow_get_or_alloc(
			    &objs[i], SV_ID1, sizeof(pnfields1[i]), shadow_ctor,
			    &pnfields1[i]);
		pnfields2[i] = &nfields2[i];
		sv2[i] =
		    klp_shadow_alloc(&objs[i], SV_ID2, sizeof(pnfields2[i]),
				     shadow_ctor, &pnfields2[i]);
		if (!sv1[i] || !sv2[i] || *sv1[i] != pnfields1[i] ||
		    *sv2[i] != pnfields2[i])
			ok = false;
	}
	check(ok, "pass 1: alloc/get_or_alloc of %d variables, ctor set data",
	      2 * NUM_OBJS);
	check(ctor_calls == 2 * NUM_OBJS, "pass 1: ctor called %d times (%d)",
	      2 * NUM_OBJS, ctor_calls);
	if (!ok)
		goto out;

	/* pass 2: klp_shadow_get() finds them, pointing where they should */
	ok = true;
	for (i = 0; i < NUM_OBJS; i++) {
		sv = klp_shadow_get(&objs[i], SV_ID1);
		if ((char **)sv != sv1[i] || *sv1[i] != pnfields1[i])
			ok = false;
		sv = klp_shadow_get(&objs[i], SV_ID2);
		if ((int **)sv != sv2[i] || *sv2[i] != pnfields2[i])
			ok = false;
	}
	check(ok, "pass 2: klp_shadow_get() returns the allocated data");

	/* pass 3: get_or_alloc returns the existing one, no ctor call */
	ok = true;
	for (i = 0; i < NUM_OBJS; i++) {
		pndup[i] = &nfields1[i];
		sv = klp_shadow_get_or_alloc(&objs[i], SV_ID1, sizeof(pndup[i]),
					     shadow_ctor, &pndup[i]);
		if ((char **)sv != sv1[i] || *sv1[i] != pnfields1[i])
			ok = false;
	}
	check(ok, "pass 3: klp_shadow_get_or_alloc() returns existing data");
	check(ctor_calls == 2 * NUM_OBJS,
	      "pass 3: ctor not called again (%d calls)", ctor_calls);

	/* pass 4: free <objs[*], SV_ID1> with a dtor */
	dtor_calls = 0;
	ok = true;
	for (i = 0; i < NUM_OBJS; i++) {
		/* still intact before it is freed */
		if (*sv1[i] != pnfields1[i])
			ok = false;
		klp_shadow_free(&objs[i], SV_ID1, shadow_dtor);
		if (klp_shadow_get(&objs[i], SV_ID1) || dtor_calls != i + 1 ||
		    dtor_seen[i] != sv1[i])
			ok = false;
	}
	check(ok, "pass 4: klp_shadow_free() ran dtor on each, get = NULL");
	check(dtor_calls == NUM_OBJS, "pass 4: dtor called %d times (%d)",
	      NUM_OBJS, dtor_calls);

	/* pass 5: <objs[*], SV_ID2> are still there */
	ok = true;
	for (i = 0; i < NUM_OBJS; i++) {
		sv = klp_shadow_get(&objs[i], SV_ID2);
		if ((int **)sv != sv2[i] || *sv2[i] != pnfields2[i])
			ok = false;
	}
	check(ok, "pass 5: variables of the other id survive");

	/* pass 6: free all <*, SV_ID2> with a dtor */
	dtor_calls = 0;
	klp_shadow_free_all(SV_ID2, shadow_dtor);
	ok = dtor_calls == NUM_OBJS;
	for (i = 0; i < NUM_OBJS; i++) {
		if (klp_shadow_get(&objs[i], SV_ID2) || !dtor_saw(sv2[i]))
			ok = false;
	}
	check(ok, "pass 6: klp_shadow_free_all() ran dtor on all %d (%d)",
	      NUM_OBJS, dtor_calls);
	return;
out:
	klp_shadow_free_all(SV_ID1, NULL);
	klp_shadow_free_all(SV_ID2, NULL);
}

/* Duplicates, failing constructors, zero sizes */

static int fail_ctor(void *obj, void *shadow_data, void *ctor_data)
{
	ctor_calls++;
	return *(int *)ctor_data;
}

static void test_duplicate(void)
{
	struct test_object obj;
	char expect[128];
	void *val = &obj, **sv, **dup;

	ctor_calls = 0;
	sv = klp_shadow_alloc(&obj, SV_ID1, sizeof(void *), shadow_ctor, &val);
	log_reset();
	dup = klp_shadow_alloc(&obj, SV_ID1, sizeof(void *), shadow_ctor, &val);
	snprintf(expect, sizeof(expect), "Duplicate shadow variable <%p, %lx>",
		 (void *)&obj, (unsigned long)SV_ID1);
	check(sv && !dup, "duplicate: second klp_shadow_alloc() = NULL");
	check(log_count == 1 && log_level == UKLP_LOG_WARNING &&
		  !strcmp(log_last, expect),
	      "duplicate: warning \"%s\"", log_last);
	check(ctor_calls == 1 && klp_shadow_get(&obj, SV_ID1) == sv &&
		  *sv == val,
	      "duplicate: original kept, ctor ran once");

	log_reset();
	dup = klp_shadow_get_or_alloc(&obj, SV_ID1, sizeof(void *), shadow_ctor,
				      &val);
	check(dup == sv && log_count == 0,
	      "duplicate: klp_shadow_get_or_alloc() returns it silently");
	klp_shadow_free(&obj, SV_ID1, NULL);
	check(!klp_shadow_get(&obj, SV_ID1), "duplicate: freed without dtor");
}

static void test_ctor_failure(void)
{
	struct test_object obj;
	char expect[128];
	int err = -EINVAL;
	void *sv;

	ctor_calls = 0;
	log_reset();
	sv = klp_shadow_alloc(&obj, SV_ID1, 16, fail_ctor, &err);
	snprintf(
	    expect, sizeof(expect),
	    "livepatch: Failed to construct shadow variable <%p, %lx> (%d)",
	    (void *)&obj, (unsigned long)SV_ID1, -EINVAL);
	check(!sv && ctor_calls == 1,
	      "ctor failure: klp_shadow_alloc() = NULL");
	check(log_count == 1 && log_level == UKLP_LOG_ERR &&
		  !strcmp(log_last, expect),
	      "ctor failure: error \"%s\"", log_last);
	check(!klp_shadow_get(&obj, SV_ID1), "ctor failure: nothing left");

	err = -ENOMEM;
	sv = klp_shadow_get_or_alloc(&obj, SV_ID1, 16, fail_ctor, &err);
	check(!sv && !klp_shadow_get(&obj, SV_ID1),
	      "ctor failure: klp_shadow_get_or_alloc() = NULL, nothing left");

	/* the kernel test's ctor refuses a NULL ctor_data */
	sv = klp_shadow_alloc(&obj, SV_ID2, sizeof(void *), shadow_ctor, NULL);
	check(!sv && !klp_shadow_get(&obj, SV_ID2),
	      "ctor failure: shadow_ctor(NULL) = -EINVAL, nothing left");

	err = 0;
	sv = klp_shadow_alloc(&obj, SV_ID1, 16, fail_ctor, &err);
	check(sv && klp_shadow_get(&obj, SV_ID1) == sv,
	      "ctor failure: then a working ctor allocates it");
	klp_shadow_free_all(SV_ID1, NULL);
}

static void test_zeroed(void)
{
	struct test_object obj;
	unsigned char *data;
	void *empty;
	bool zero = true;
	size_t i;

	data = klp_shadow_alloc(&obj, SV_ID1, 4096, NULL, NULL);
	for (i = 0; data && i < 4096; i++) {
		if (data[i])
			zero = false;
	}
	check(data && zero, "alloc: 4096 bytes zeroed without a ctor");
	check(data && (uintptr_t)data % _Alignof(max_align_t) == 0,
	      "alloc: data aligned to %zu", _Alignof(max_align_t));
	empty = klp_shadow_alloc(&obj, SV_ID2, 0, NULL, NULL);
	check(empty && empty != (void *)data &&
		  klp_shadow_get(&obj, SV_ID2) == empty,
	      "alloc: size 0 gives a distinct variable");
	klp_shadow_free(&obj, SV_ID1, NULL);
	klp_shadow_free(&obj, SV_ID2, NULL);
	klp_shadow_free(&obj, SV_ID2, NULL);
	check(!klp_shadow_get(&obj, SV_ID1) && !klp_shadow_get(&obj, SV_ID2),
	      "free: both freed, freeing a missing one is harmless");
}

/* Callbacks may look variables up; changes from them are refused. */

static void *nested_get, *nested_alloc;

static int lookup_ctor(void *obj, void *shadow_data, void *ctor_data)
{
	nested_get = klp_shadow_get(obj, SV_ID1);
	nested_alloc = klp_shadow_alloc(obj, 0x9999, 8, NULL, NULL);
	klp_shadow_free(obj, SV_ID1, NULL);
	klp_shadow_free_all(SV_ID1, NULL);
	return 0;
}

static void lookup_dtor(void *obj, void *shadow_data)
{
	nested_get = klp_shadow_get(obj, SV_ID1);
}

static void test_nested(void)
{
	struct test_object obj;
	void *sv1, *sv2;

	sv1 = klp_shadow_alloc(&obj, SV_ID1, 8, NULL, NULL);
	log_reset();
	sv2 = klp_shadow_alloc(&obj, SV_ID2, 8, lookup_ctor, NULL);
	check(sv2 && nested_get == sv1,
	      "nested: klp_shadow_get() from a ctor works");
	check(!nested_alloc && log_count == 3 && log_level == UKLP_LOG_ERR &&
		  klp_shadow_get(&obj, SV_ID1) == sv1 &&
		  !klp_shadow_get(&obj, 0x9999),
	      "nested: alloc/free/free_all from a ctor refused (%s)", log_last);
	nested_get = NULL;
	klp_shadow_free(&obj, SV_ID2, lookup_dtor);
	check(nested_get == sv1, "nested: klp_shadow_get() from a dtor works");
	klp_shadow_free(&obj, SV_ID1, NULL);
}

/* Many variables: several per bucket, several ids per object */

#define MANY 10000

static void test_many(void)
{
	static struct test_object objs[MANY];
	bool ok = true;
	long *sv;
	int i;

	for (i = 0; i < MANY; i++) {
		sv = klp_shadow_alloc(&objs[i], SV_ID1, sizeof(long), NULL,
				      NULL);
		if (!sv)
			ok = false;
		else
			*sv = i;
		if (i % 2 && !klp_shadow_alloc(&objs[i], SV_ID2, 1, NULL, NULL))
			ok = false;
	}
	for (i = 0; i < MANY; i++) {
		sv = klp_shadow_get(&objs[i], SV_ID1);
		if (!sv || *sv != i)
			ok = false;
		if (!klp_shadow_get(&objs[i], SV_ID2) != !(i % 2))
			ok = false;
	}
	check(ok, "many: %d objects, %d variables found again", MANY,
	      MANY + MANY / 2);
	dtor_calls = 0;
	klp_shadow_free_all(SV_ID1, shadow_dtor);
	ok = dtor_calls == MANY;
	for (i = 0; i < MANY; i++) {
		if (klp_shadow_get(&objs[i], SV_ID1) ||
		    !klp_shadow_get(&objs[i], SV_ID2) != !(i % 2))
			ok = false;
	}
	check(ok, "many: free_all(0x%x) freed %d, kept the other id", SV_ID1,
	      dtor_calls);
	dtor_calls = 0;
	klp_shadow_free_all(SV_ID2, shadow_dtor);
	for (i = 0; i < MANY; i++) {
		if (klp_shadow_get(&objs[i], SV_ID2))
			ok = false;
	}
	check(ok && dtor_calls == MANY / 2, "many: free_all(0x%x) freed %d",
	      SV_ID2, dtor_calls);
}

/* 8 threads on 16 objects x 4 ids */

#define THREADS	 8
#define CC_OBJS	 16
#define CC_IDS	 4
#define CC_ID0	 0x5000UL
#define CC_ITERS 200000
#define CC_MAGIC 0x5ad0c0deUL

struct cc_data {
	unsigned long magic; /* CC_MAGIC ^ key while alive */
	unsigned long key;
};

static struct test_object cc_objs[CC_OBJS];
static atomic_int cc_live[CC_OBJS * CC_IDS];
static atomic_long cc_ctors, cc_dtors, cc_errors;

static unsigned long cc_key(void *obj, unsigned long id)
{
	return (unsigned long)((struct test_object *)obj - cc_objs) * CC_IDS +
	       (id - CC_ID0);
}

static int cc_ctor(void *obj, void *shadow_data, void *ctor_data)
{
	struct cc_data *d = shadow_data;
	unsigned long key = cc_key(obj, *(unsigned long *)ctor_data);

	if (d->magic || d->key)
		atomic_fetch_add(&cc_errors, 1); /* not zeroed */
	/* never two live variables for one key */
	if (atomic_fetch_add(&cc_live[key], 1) != 0)
		atomic_fetch_add(&cc_errors, 1);
	d->magic = CC_MAGIC ^ key;
	d->key = key;
	atomic_fetch_add(&cc_ctors, 1);
	return 0;
}

static void cc_dtor(void *obj, void *shadow_data)
{
	struct cc_data *d = shadow_data;
	unsigned long key = d->key;

	if (key >= CC_OBJS * CC_IDS || d->magic != (CC_MAGIC ^ key) ||
	    atomic_fetch_sub(&cc_live[key], 1) != 1)
		atomic_fetch_add(&cc_errors, 1);
	d->magic = 0; /* a second dtor on it would notice */
	atomic_fetch_add(&cc_dtors, 1);
}

static void *cc_thread(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	unsigned long id;
	void *obj;
	int i, op;

	/*
	 * The returned data is not dereferenced: another thread may free it
	 * at any time (keeping data alive is the caller's job, as in the
	 * kernel). The ctor and dtor check it under the lock.
	 */
	for (i = 0; i < CC_ITERS; i++) {
		obj = &cc_objs[rand_r(&seed) % CC_OBJS];
		id = CC_ID0 + rand_r(&seed) % CC_IDS;
		op = rand_r(&seed) % 100;
		if (op < 40) {
			if (!klp_shadow_get_or_alloc(
				obj, id, sizeof(struct cc_data), cc_ctor, &id))
				atomic_fetch_add(&cc_errors, 1);
		} else if (op < 55) {
			klp_shadow_alloc(obj, id, sizeof(struct cc_data),
					 cc_ctor, &id);
		} else if (op < 75) {
			klp_shadow_get(obj, id);
		} else if (op < 99) {
			klp_shadow_free(obj, id, cc_dtor);
		} else {
			klp_shadow_free_all(id, cc_dtor);
		}
	}
	return NULL;
}

static void test_concurrency(void)
{
	pthread_t threads[THREADS];
	int i, j, started = 0;
	bool empty = true;

	for (i = 0; i < THREADS; i++) {
		if (pthread_create(&threads[i], NULL, cc_thread,
				   (void *)(uintptr_t)(i + 1)))
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	check(started == THREADS, "concurrency: %d threads x %d operations",
	      started, CC_ITERS);

	for (j = 0; j < CC_IDS; j++)
		klp_shadow_free_all(CC_ID0 + j, cc_dtor);
	for (i = 0; i < CC_OBJS; i++) {
		for (j = 0; j < CC_IDS; j++) {
			if (klp_shadow_get(&cc_objs[i], CC_ID0 + j) ||
			    atomic_load(&cc_live[i * CC_IDS + j]))
				empty = false;
		}
	}
	check(atomic_load(&cc_errors) == 0,
	      "concurrency: no duplicate, unzeroed or bad variable (%ld)",
	      atomic_load(&cc_errors));
	check(atomic_load(&cc_ctors) > 0 &&
		  atomic_load(&cc_ctors) == atomic_load(&cc_dtors),
	      "concurrency: %ld constructed, %ld destroyed",
	      atomic_load(&cc_ctors), atomic_load(&cc_dtors));
	check(empty, "concurrency: table empty after klp_shadow_free_all()");
}

int main(void)
{
	test_kernel_passes();
	test_duplicate();
	test_ctor_failure();
	test_zeroed();
	test_nested();
	test_many();
	test_concurrency();

	printf("%d nchecks, %d failed\n", nchecks, nfailed);
	return nfailed ? 1 : 0;
}
