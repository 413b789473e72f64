// SPDX-License-Identifier: MIT
/*
 * control.c - the runtime's entry points (<uklp/control.h>), its start-up
 * (UKLP_LOAD), the transition worker (the kernel's klp_transition_work)
 * and the dynamic loader hook (module coming / going).
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <uklp/control.h>

#include "core.h"
#include "log.h"
#include "poke.h"
#include "threads.h"
#include "tramp.h"
#include "toolif.h"
#include "uklp_api.h"

int klp_enable_patch(struct klp_patch *patch, const char *name,
		     const char *path, void *dlh, bool check_only, char *report,
		     size_t report_len);
int klp_disable_patch(struct klp_patch *patch);
struct klp_patch *klp_find_patch(const char *name);
void klp_reap(void);
int klp_module_coming(struct uklp_obj *u);
void klp_module_going(struct uklp_obj *u);
extern pid_t klp_blocking_tid;

static __thread char last_err[512];
static int rt_ready;

static int fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
	return err;
}

UKLP_API const char *uklp_ctl_last_error(void)
{
	return last_err;
}

/* ---- the transition worker (the kernel's klp_transition_work) ---- */

extern pid_t klp_worker_tid;
static int worker_started;
/* Set while UKLP_LOAD patches are applied before main(): one thread. */
static int in_startup;
static pthread_cond_t worker_cond = PTHREAD_COND_INITIALIZER;

/*
 * The worker is an ordinary thread (SCHED_OTHER) with the main thread's
 * nice value, but never below 0. It starts with its creator's scheduling
 * and makes itself ordinary once its tid is published: the creator may
 * run a call of the tool, which gives that thread real time (SCHED_FIFO)
 * or nice -20 until the call answers - so the new thread starts at once
 * instead of after a scheduling round of the target's busy threads (0.5 s
 * measured), and the tool can boost it by its tid while it waits for it.
 * (Created with the creator's policy and left so, it kept real time for
 * the life of the process.)
 */
static void worker_sched(void)
{
	struct sched_param sp = {.sched_priority = 0};
	int nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, (id_t)getpid());
	if (errno || nice < 0)
		nice = 0;
	sched_setscheduler(0, SCHED_OTHER, &sp);
	setpriority(PRIO_PROCESS, 0, nice);
}

/*
 * One thread for the life of the process, started at the first transition
 * that does not complete at once: it retries completion every 20 ms while
 * a transition is in progress and sleeps on a condition variable otherwise.
 * The completion check does not wait for it (klp_worker_tid).
 */
static void *worker(void *arg)
{
	(void)arg;
	/* Before the mutex: its holder may be the creator. */
	uklp_status.worker_tid = threads_gettid();
	worker_sched();
	pthread_mutex_lock(&klp_mutex);
	klp_worker_tid = uklp_status.worker_tid;
	for (;;) {
		struct timespec ts;

		while (!klp_transition_patch)
			pthread_cond_wait(&worker_cond, &klp_mutex);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&worker_cond, &klp_mutex, &ts);
		/* Texts and reaping only change when the transition ends:
		 * not every 20 ms of a transition that waits for a thread. */
		if (klp_transition_patch && klp_try_complete_transition()) {
			pthread_mutex_unlock(&klp_mutex);
			klp_reap();
			toolif_texts();
			pthread_mutex_lock(&klp_mutex);
		}
	}
	return NULL;
}

/* Wake (or start) the worker when a transition is in progress (klp_mutex held).
 */
void klp_transition_kick(void)
{
	pthread_attr_t a;
	pthread_t t;

	if (!klp_transition_patch || in_startup)
		return;
	if (worker_started) {
		pthread_cond_signal(&worker_cond);
		return;
	}
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (!pthread_create(&t, &a, worker, NULL))
		worker_started = 1;
	pthread_attr_destroy(&a);
}

/* ---- control ---- */

static void patch_name(const char *path, char *out, size_t len)
{
	const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t n = strlen(b);

	if (n > 3 && !strcmp(b + n - 3, ".so"))
		n -= 3;
	if (n >= len)
		n = len - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

/**
 * control_load() - uklp_ctl_load() that also reports on a dry run
 * @path:	path of the patch shared object
 * @flags:	UKLP_LOAD_*
 * @report:	if not NULL, with UKLP_LOAD_CHECK: where the symbols of each
 *		object of the patch came from, one line each (set on success)
 * @report_len:	size of @report
 *
 * Return: as uklp_ctl_load().
 */
int control_load(const char *path, int flags, char *report, size_t report_len)
{
	const struct uklp_patch_desc *desc;
	char name[256], real[4096];
	bool check = flags & UKLP_LOAD_CHECK;
	unsigned long mark;
	void *dlh;
	int ret;

	last_err[0] = '\0';
	if (!rt_ready)
		return fail(-ENODEV, "the uklp runtime failed to initialize");
	if (!path || !realpath(path, real))
		return fail(-ENOENT, "%s: %s; nothing was changed",
			    path ? path : "(null)", strerror(errno));
	patch_name(real, name, sizeof(name));
	pthread_mutex_lock(&klp_mutex);
	ret = klp_find_patch(name) ? -EEXIST : 0;
	pthread_mutex_unlock(&klp_mutex);
	if (ret)
		return fail(ret,
			    "patch '%s' is already loaded; nothing was changed",
			    name);
	dlh = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	if (!dlh)
		return fail(-ENOEXEC, "cannot load %s: %s; nothing was changed",
			    real, dlerror());
	desc = dlsym(dlh, UKLP_PATCH_SYMBOL);
	if (!desc || desc->magic != UKLP_PATCH_MAGIC || !desc->patch) {
		dlclose(dlh);
		return fail(-ENOEXEC,
			    "%s is not a uklp patch (no KLP_PATCH() "
			    "descriptor); nothing was changed",
			    real);
	}
	if (desc->abi != UKLP_ABI_VERSION) {
		dlclose(dlh);
		return fail(-ENOEXEC,
			    "%s was built for patch ABI %u, this runtime has "
			    "%u; nothing was changed",
			    real, desc->abi, UKLP_ABI_VERSION);
	}
	pthread_mutex_lock(&klp_mutex);
	mark = objects_elf_mark();
	ret = klp_enable_patch(desc->patch, name, real, dlh, check, report,
			       report_len);
	/* A refusal or a dry run leaves the memory as it found it. */
	if (ret || check)
		objects_elf_release(mark);
	if (!ret)
		klp_transition_kick();
	pthread_mutex_unlock(&klp_mutex);
	if (ret || check)
		dlclose(dlh);
	klp_reap();
	toolif_texts();
	if (ret)
		return fail(ret,
			    "patch '%s' was refused (%s): see `uklp log`; "
			    "nothing was changed",
			    name, strerror(-ret));
	return 0;
}

UKLP_API int uklp_ctl_load(const char *path, int flags)
{
	return control_load(path, flags, NULL, 0);
}

UKLP_API int uklp_ctl_disable(const char *name)
{
	struct klp_patch *p;
	int ret = 0;

	last_err[0] = '\0';
	pthread_mutex_lock(&klp_mutex);
	p = name ? klp_find_patch(name) : NULL;
	if (!p) {
		ret = fail(-EINVAL, "no patch named '%s' is loaded",
			   name ? name : "(null)");
	} else if (p == klp_transition_patch) {
		if (!p->enabled)
			ret =
			    fail(-EINVAL,
				 "patch '%s' is already being disabled", name);
		else
			klp_reverse_transition();
	} else if (!p->enabled) {
		ret = fail(-EINVAL, "patch '%s' is not enabled", name);
	} else {
		ret = klp_disable_patch(p);
		if (ret == -EBUSY)
			fail(ret,
			     "patch '%s' cannot be disabled while patch '%s' "
			     "is in transition; nothing was changed",
			     name, KLP_PATCH_P(klp_transition_patch)->name);
	}
	if (!ret)
		klp_transition_kick();
	pthread_mutex_unlock(&klp_mutex);
	klp_reap();
	toolif_texts();
	return ret;
}

UKLP_API int uklp_ctl_enable(const char *name)
{
	struct klp_patch *p;
	int ret = 0;

	last_err[0] = '\0';
	pthread_mutex_lock(&klp_mutex);
	p = name ? klp_find_patch(name) : NULL;
	if (!p || p != klp_transition_patch || p->enabled)
		ret = fail(-EINVAL,
			   "patch '%s' is not being disabled; a disabled patch "
			   "is loaded again with load",
			   name ? name : "(null)");
	else
		klp_reverse_transition();
	if (!ret)
		klp_transition_kick();
	pthread_mutex_unlock(&klp_mutex);
	return ret;
}

UKLP_API int uklp_ctl_force(const char *name)
{
	struct klp_patch *p;
	int ret = 0;

	last_err[0] = '\0';
	pthread_mutex_lock(&klp_mutex);
	p = name ? klp_find_patch(name) : NULL;
	if (!p || p != klp_transition_patch) {
		ret = fail(-EINVAL, "patch '%s' is not in transition",
			   name ? name : "(null)");
	} else {
		klp_force_transition();
		klp_try_complete_transition();
	}
	pthread_mutex_unlock(&klp_mutex);
	klp_reap();
	toolif_texts();
	return ret;
}

UKLP_API int uklp_ctl_try_complete(void)
{
	bool had, done;

	pthread_mutex_lock(&klp_mutex);
	had = klp_transition_patch != NULL;
	done = klp_try_complete_transition();
	pthread_mutex_unlock(&klp_mutex);
	if (had && done) { /* it ended now: reap, and tell the tool */
		klp_reap();
		toolif_texts();
	}
	return done ? 0 : -EAGAIN;
}

UKLP_API int uklp_ctl_wait(int timeout_ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long us = 50;; us = us < 5000 ? us * 2 : 5000) {
		struct timespec ts = {0, us * 1000};

		if (!uklp_ctl_try_complete())
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (timeout_ms >= 0 &&
		    (t.tv_sec - t0.tv_sec) * 1000 +
			    (t.tv_nsec - t0.tv_nsec) / 1000000 >=
			timeout_ms) {
			pthread_mutex_lock(&klp_mutex);
			fail(-ETIMEDOUT,
			     "transition of patch '%s' still in progress: "
			     "thread %d has not switched",
			     klp_transition_patch
				 ? KLP_PATCH_P(klp_transition_patch)->name
				 : "?",
			     klp_blocking_tid);
			pthread_mutex_unlock(&klp_mutex);
			return -ETIMEDOUT;
		}
		nanosleep(&ts, NULL);
	}
}

UKLP_API int uklp_ctl_stats(struct uklp_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&klp_mutex);
	for (struct klp_patch *p = klp_patches; p; p = KLP_PATCH_P(p)->next)
		st->patches++;
	st->transition = klp_transition_patch != NULL;
	pthread_mutex_unlock(&klp_mutex);
	hook_stats(&st->sites, &st->armed, &st->trampolines);
	st->moved = (long)poke_moved_threads();
	return 0;
}

UKLP_API int uklp_ctl_log(char *buf, size_t len)
{
	return (int)log_read(buf, len, UKLP_LOG_DEBUG);
}

/* ---- list: the /sys/kernel/livepatch tree ---- */

struct out {
	char *buf;
	size_t len, pos;
};

static void outf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->pos < o->len ? o->buf + o->pos : NULL,
		      o->pos < o->len ? o->len - o->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

UKLP_API int uklp_ctl_list(char *buf, size_t len, int json)
{
	struct out o = {buf, len, 0};
	int order = 0;

	if (len)
		buf[0] = '\0';
	pthread_mutex_lock(&klp_mutex);
	if (json)
		outf(&o, "{\"patches\":[");
	for (struct klp_patch *p = klp_patches; p; p = KLP_PATCH_P(p)->next) {
		struct klp_object *obj;
		struct klp_func *func;

		order++;
		if (json)
			outf(&o,
			     "%s{\"name\":\"%s\",\"enabled\":%d,\"transition\":"
			     "%d,\"forced\":%d,\"replace\":%d,\"stack_order\":%"
			     "d,\"objects\":[",
			     order > 1 ? "," : "", KLP_PATCH_P(p)->name,
			     p->enabled, p == klp_transition_patch, p->forced,
			     p->replace, order);
		else
			outf(&o,
			     "%s\n  enabled: %d\n  transition: %d\n  replace: "
			     "%d\n  stack_order: %d\n",
			     KLP_PATCH_P(p)->name, p->enabled,
			     p == klp_transition_patch, p->replace, order);
		klp_for_each_object (p, obj, i) {
			if (json)
				outf(&o,
				     "%s{\"name\":\"%s\",\"patched\":%d,"
				     "\"funcs\":[",
				     i ? "," : "", klp_obj_name(obj),
				     obj->patched);
			else
				outf(&o, "  %s\n    patched: %d\n",
				     klp_obj_name(obj), obj->patched);
			klp_for_each_func (obj, func, k) {
				unsigned long pos =
				    func->old_sympos ? func->old_sympos : 1;
				if (json)
					outf(&o,
					     "%s{\"name\":\"%s\",\"sympos\":%"
					     "lu}",
					     k ? "," : "", func->old_name, pos);
				else
					outf(&o, "    %s,%lu\n", func->old_name,
					     pos);
			}
			if (json)
				outf(&o, "]}");
		}
		if (json)
			outf(&o, "]}");
	}
	if (json)
		outf(&o, "],\"transition\":%s,\"blocking_tid\":%d}\n",
		     klp_transition_patch ? "true" : "false",
		     klp_transition_patch ? klp_blocking_tid : 0);
	pthread_mutex_unlock(&klp_mutex);
	return (int)o.pos;
}

/* ---- the dynamic loader hook (r_brk): modules coming and going ---- */

typedef void (*dl_signal_error_t)(int, const char *, const char *,
				  const char *);

/*
 * Runs instead of _dl_debug_state() (a function that only returns and
 * exists for debuggers): the breakpoint handler sends the thread here with
 * its return address still on the stack. At RT_CONSISTENT the loader's list
 * is complete; new objects are mapped but not relocated and their
 * constructors have not run; removed objects are unmapped (after their
 * destructors ran).
 */
static void dl_notify(void)
{
	struct uklp_obj **added = NULL, **removed = NULL;
	static char refuse_msg[512];
	int refuse = 0;

	if (_r_debug.r_state != RT_CONSISTENT)
		return;
	pthread_mutex_lock(&klp_mutex);
	if (objects_scan(&added, &removed) == 0) {
		for (size_t i = 0; removed && removed[i]; i++) {
			/* its code is gone: forget the sites, write nothing */
			hook_forget_range(removed[i]->start, removed[i]->end);
			klp_module_going(removed[i]);
			objects_forget(removed[i]);
		}
		for (size_t i = 0; added && added[i]; i++) {
			int ret = klp_module_coming(added[i]);

			if (ret && !refuse) {
				refuse = ret;
				snprintf(refuse_msg, sizeof(refuse_msg),
					 "refused by a live patch (%s); see "
					 "`uklp log`",
					 strerror(-ret));
				added[i]->going = 1; /* never "going" later */
			}
		}
	}
	pthread_mutex_unlock(&klp_mutex);
	free(added);
	free(removed);
	toolif_texts();
	if (refuse) {
		/* Make this dlopen() fail: the loader unmaps the object and
		 * dlerror() says why. Must be the last thing done here. */
		dl_signal_error_t sig =
		    (dl_signal_error_t)dlsym(RTLD_DEFAULT, "_dl_signal_error");

		if (sig)
			sig(-refuse, NULL, NULL, refuse_msg);
	}
}

static void r_brk_handler(void *addr, ucontext_t *uc)
{
	(void)addr;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)dl_notify;
}

/* ---- start-up ---- */

static void load_from_env(void)
{
	const char *list = getenv("UKLP_LOAD");
	char *copy, *save = NULL;

	if (!list || !*list)
		return;
	copy = strdup(list);
	if (!copy)
		return;
	in_startup = 1;
	for (char *p = strtok_r(copy, ":", &save); p;
	     p = strtok_r(NULL, ":", &save)) {
		int ret = uklp_ctl_load(p, 0);

		if (ret) {
			fprintf(stderr, "uklp: UKLP_LOAD: %s\n", last_err);
			continue;
		}
		/*
		 * Before main and with one thread, the only frames on the
		 * stack are the dynamic loader's start code (which has no
		 * CFI, so the unwind is "unreliable") and constructors: no
		 * function a patch replaces can be among them. The kernel
		 * likewise needs no stack check for patches applied at boot.
		 */
		pthread_mutex_lock(&klp_mutex);
		klp_switch_self_at_start();
		klp_try_complete_transition();
		pthread_mutex_unlock(&klp_mutex);
		klp_reap();
		toolif_texts();
	}
	in_startup = 0;
	pthread_mutex_lock(&klp_mutex);
	klp_transition_kick();
	pthread_mutex_unlock(&klp_mutex);
	free(copy);
}

__attribute__((constructor)) static void uklp_runtime_init(void)
{
	int ret;

	log_init();
	unwind_init();
	ret = threads_init();
	if (!ret)
		ret = hook_init();
	if (!ret) {
		pthread_mutex_lock(&klp_mutex);
		ret = objects_scan(NULL, NULL);
		pthread_mutex_unlock(&klp_mutex);
	}
	if (ret) {
		fprintf(stderr, "uklp: runtime initialization failed: %s\n",
			strerror(-ret));
		return;
	}
	if (_r_debug.r_brk &&
	    poke_bp_install((void *)_r_debug.r_brk, r_brk_handler) < 0)
		pr_warn("cannot watch dlopen/dlclose: libraries loaded later "
			"will not be patched");
	rt_ready = 1;
	toolif_init();
	load_from_env();
}
