// SPDX-License-Identifier: MIT
/*
 * target.c - the program every conformance test patches.
 *
 * It plays the kernel selftests' vmlinux (the functions a test patches),
 * module loader (dlopen/dlclose of the test libraries) and user tasks (busy
 * and hammering threads). It is not linked with libuklp.so: tests start it
 * with LD_PRELOAD=libuklp.so (or let the uklp tool inject the runtime) and
 * it finds the runtime's functions with dlsym.
 *
 * Protocol: one command per line on stdin; each is answered on stdout by
 * zero or more data lines, then exactly one line "ok" or
 * "err <negative errno> <message>".
 *
 *	call FUNC	print what FUNC() returns (a function of the table
 *			below, else of a dlopen'ed library, else any global)
 *	load PATH	uklp_ctl_load(PATH, 0)
 *	check PATH	uklp_ctl_load(PATH, UKLP_LOAD_CHECK)
 *	disable NAME	uklp_ctl_disable(NAME)
 *	enable NAME	uklp_ctl_enable(NAME)
 *	force NAME	uklp_ctl_force(NAME)
 *	wait MS		uklp_ctl_wait(MS)
 *	list, listjson	uklp_ctl_list() text or JSON
 *	log		uklp_ctl_log()
 *	mark TEXT	TEXT as a line of the runtime's log
 *	dlopen NAME	dlopen(NAME, RTLD_NOW | RTLD_LOCAL)
 *	dlclose NAME	dlclose() what dlopen NAME opened
 *	busy start	start a thread inside busymod_work_func() (the busy
 *			library must be dlopen'ed), return once it is in
 *	busy stop	let it leave, join it
 *	hammer start N	start N threads calling syscall_getpid() in a loop;
 *			klp_pending_threads = N
 *	hammer stop	join them
 *	pending		print klp_pending_threads
 *	quit		exit (as does the end of stdin)
 *
 * Relative PATHs and NAMEs are taken from the directory of this binary
 * (build/tests), so "load patches/test_klp_livepatch.so" and "dlopen
 * libtest_klp_callbacks_mod.so" do not depend on the build directory.
 *
 * Like the kernel selftests' "% insmod ..." lines, every command that
 * changes something (load, disable, enable, force, dlopen, dlclose, busy)
 * is first logged as "% <command line>". After every command the main
 * thread calls klp_update_patch_state(): its switch at "exit to user space".
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uklp/control.h>
#include <uklp/livepatch.h>

#include "target.h"

typedef const char *(*call_fn)(void);

/* Hammer threads that have not yet run test_klp_syscall's syscall_getpid(). */
int klp_pending_threads;

/* The kernel's console_loglevel, which the test_klp_state patches change. */
int console_loglevel = 7;

/*
 * The functions the tests patch (the kernel's /proc show functions). They
 * are found by "call" through find_function().
 */

/*
 * target_tiny() - a function no site can be made for: no compiler record
 * (assembly), and only 3 bytes, too short to relocate a jmp over
 * (tests/tool/bad-no-site.sh). Returns 0.
 */
__asm__(".text\n"
	".globl target_tiny\n"
	".type target_tiny, @function\n"
	"target_tiny:\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	".size target_tiny, . - target_tiny\n");

/**
 * cmdline_show() - what test_klp_livepatch replaces (cmdline_proc_show)
 *
 * Return: "cmdline: original".
 */
PATCHABLE const char *cmdline_show(void)
{
	return "cmdline: original";
}

/**
 * meminfo_show() - what test_klp_atomic_replace replaces (meminfo_proc_show)
 *
 * Return: "meminfo: original".
 */
PATCHABLE const char *meminfo_show(void)
{
	return "meminfo: original";
}

/**
 * syscall_getpid() - what test_klp_syscall replaces (sys_getpid); the
 * hammer threads call it in a loop
 *
 * Return: "getpid: original".
 */
PATCHABLE const char *syscall_getpid(void)
{
	return "getpid: original";
}

/**
 * console_loglevel_show() - the value the test_klp_state patches change
 *
 * Return: "console_loglevel: N" (a static buffer: main thread only).
 */
PATCHABLE const char *console_loglevel_show(void)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "console_loglevel: %d",
		 __atomic_load_n(&console_loglevel, __ATOMIC_RELAXED));
	return buf;
}

/* The first of two static functions of that name (see target_dup.c). */
static PATCHABLE const char *local_helper(void)
{
	return "local_helper 1";
}

/* The runtime's control API, looked up in the process. */
static struct {
	typeof(uklp_ctl_load) *load;
	typeof(uklp_ctl_disable) *disable;
	typeof(uklp_ctl_enable) *enable;
	typeof(uklp_ctl_force) *force;
	typeof(uklp_ctl_wait) *wait;
	typeof(uklp_ctl_list) *list;
	typeof(uklp_ctl_log) *log;
	typeof(uklp_ctl_last_error) *last_error;
	typeof(klp_update_patch_state) *update; /* read by every thread */
} rt;

#define RT_RESOLVE(field, sym)                                                 \
	do {                                                                   \
		if (!rt.field)                                                 \
			__atomic_store_n(&rt.field,                            \
					 (typeof(rt.field))uklp_sym(sym),      \
					 __ATOMIC_RELEASE);                    \
	} while (0)

static void rt_resolve(void)
{
	RT_RESOLVE(load, "uklp_ctl_load");
	RT_RESOLVE(disable, "uklp_ctl_disable");
	RT_RESOLVE(enable, "uklp_ctl_enable");
	RT_RESOLVE(force, "uklp_ctl_force");
	RT_RESOLVE(wait, "uklp_ctl_wait");
	RT_RESOLVE(list, "uklp_ctl_list");
	RT_RESOLVE(log, "uklp_ctl_log");
	RT_RESOLVE(last_error, "uklp_ctl_last_error");
	RT_RESOLVE(update, "klp_update_patch_state");
}

static void update_patch_state(void)
{
	typeof(rt.update) fn = __atomic_load_n(&rt.update, __ATOMIC_ACQUIRE);

	if (fn)
		fn();
}

/* The message of the failing command's "err" line. */
static char errmsg[1024];

static __attribute__((format(printf, 2, 3))) int fail(int rc, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return rc;
}

static int no_runtime(const char *sym)
{
	return fail(-ENOSYS, "%s not found: libuklp.so is not loaded", sym);
}

static int ctl_result(int rc)
{
	if (rc < 0)
		fail(rc, "%s", rt.last_error ? rt.last_error() : "");
	return rc;
}

/* Directory of this binary: relative paths are taken from there. */
static char exe_dir[PATH_MAX];

static const char *from_exe_dir(const char *path, char *buf, size_t len)
{
	int n;

	if (path[0] == '/')
		return path;
	n = snprintf(buf, len, "%s/%s", exe_dir, path);
	return n < 0 || (size_t)n >= len ? NULL : buf;
}

/* Libraries opened by "dlopen NAME", by NAME. */
#define MAX_LIBS 16
static struct {
	char *name;
	void *handle;
} libs[MAX_LIBS];

static void *lib_handle(const char *name)
{
	for (int i = 0; i < MAX_LIBS; i++)
		if (libs[i].name && !strcmp(libs[i].name, name))
			return libs[i].handle;
	return NULL;
}

static call_fn find_function(const char *name)
{
	const struct {
		const char *name;
		call_fn fn;
	} table[] = {
	    {"cmdline_show", cmdline_show},
	    {"meminfo_show", meminfo_show},
	    {"syscall_getpid", syscall_getpid},
	    {"console_loglevel_show", console_loglevel_show},
	    {"local_helper_1", local_helper},
	    {"local_helper_2", local_helper_2},
	};
	void *p;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name))
			return table[i].fn;
	for (int i = 0; i < MAX_LIBS; i++) {
		if (libs[i].handle) {
			p = dlsym(libs[i].handle, name);
			if (p)
				return (call_fn)p;
		}
	}
	return (call_fn)dlsym(RTLD_DEFAULT, name);
}

static int do_call(char *arg)
{
	call_fn fn = find_function(arg);
	const char *s;

	if (!fn)
		return fail(-ENOENT, "no function '%s'", arg);
	s = fn();
	printf("%s\n", s ? s : "(null)");
	return 0;
}

static int load(const char *arg, int flags)
{
	char buf[PATH_MAX];
	const char *path = from_exe_dir(arg, buf, sizeof(buf));

	if (!path)
		return fail(-ENAMETOOLONG, "path too long");
	if (!rt.load)
		return no_runtime("uklp_ctl_load");
	return ctl_result(rt.load(path, flags));
}

static int do_load(char *arg)
{
	return load(arg, 0);
}

static int do_check(char *arg)
{
	return load(arg, UKLP_LOAD_CHECK);
}

static int do_disable(char *arg)
{
	if (!rt.disable)
		return no_runtime("uklp_ctl_disable");
	return ctl_result(rt.disable(arg));
}

static int do_enable(char *arg)
{
	if (!rt.enable)
		return no_runtime("uklp_ctl_enable");
	return ctl_result(rt.enable(arg));
}

static int do_force(char *arg)
{
	if (!rt.force)
		return no_runtime("uklp_ctl_force");
	return ctl_result(rt.force(arg));
}

static int do_wait(char *arg)
{
	char *end;
	long ms = strtol(arg, &end, 10);

	if (!*arg || *end)
		return fail(-EINVAL, "usage: wait MS");
	if (!rt.wait)
		return no_runtime("uklp_ctl_wait");
	return ctl_result(rt.wait((int)ms));
}

static void print_text(const char *text)
{
	size_t n = strlen(text);

	fputs(text, stdout);
	if (n && text[n - 1] != '\n')
		putchar('\n');
}

static int print_list(int json)
{
	size_t len = 8192;
	char *buf;
	int n;

	if (!rt.list)
		return no_runtime("uklp_ctl_list");
	for (;;) {
		buf = malloc(len);
		if (!buf)
			return fail(-ENOMEM, "out of memory");
		n = rt.list(buf, len, json);
		if (n < 0) {
			free(buf);
			return ctl_result(n);
		}
		if ((size_t)n < len)
			break;
		free(buf);
		len = (size_t)n + 1;
	}
	print_text(buf);
	free(buf);
	return 0;
}

static int do_list(char *arg)
{
	return print_list(0);
}

static int do_listjson(char *arg)
{
	return print_list(1);
}

static int do_log(char *arg)
{
	size_t len = 65536;
	char *buf;
	int n;

	if (!rt.log)
		return no_runtime("uklp_ctl_log");
	for (;;) {
		buf = malloc(len);
		if (!buf)
			return fail(-ENOMEM, "out of memory");
		n = rt.log(buf, len);
		if (n < 0) {
			free(buf);
			return ctl_result(n);
		}
		if ((size_t)n < len)
			break;
		free(buf);
		len = (size_t)n + 1;
	}
	print_text(buf);
	free(buf);
	return 0;
}

static int do_mark(char *arg)
{
	if (tlog("%s", arg) < 0)
		return no_runtime("uklp_printk");
	return 0;
}

static int do_dlopen(char *arg)
{
	char buf[PATH_MAX];
	const char *path = from_exe_dir(arg, buf, sizeof(buf));
	void *h;
	int i;

	if (!path)
		return fail(-ENAMETOOLONG, "path too long");
	if (lib_handle(arg))
		return fail(-EEXIST, "%s is already open", arg);
	for (i = 0; i < MAX_LIBS && libs[i].name; i++)
		;
	if (i == MAX_LIBS)
		return fail(-ENOSPC, "too many libraries open");
	errno = 0;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		/* errno as the runtime left it when it refused the library */
		int rc =
		    access(path, F_OK) ? -ENOENT : (errno ? -errno : -ENOEXEC);
		const char *e = dlerror();

		return fail(rc, "%s", e ? e : "dlopen failed");
	}
	libs[i].name = strdup(arg);
	libs[i].handle = h;
	return 0;
}

/* The thread of "busy start" (the kernel's busy module's work item). */
static struct {
	bool running;
	pthread_t thread;
	void *handle;
	void (*work)(void);
	void (*set_block)(int block);
	int *entered;
} busy;

static int do_dlclose(char *arg)
{
	for (int i = 0; i < MAX_LIBS; i++) {
		if (!libs[i].name || strcmp(libs[i].name, arg))
			continue;
		if (busy.running && busy.handle == libs[i].handle)
			return fail(-EBUSY, "the busy thread runs in %s", arg);
		if (dlclose(libs[i].handle)) {
			const char *e = dlerror();

			return fail(-EINVAL, "%s", e ? e : "dlclose failed");
		}
		free(libs[i].name);
		libs[i].name = NULL;
		libs[i].handle = NULL;
		return 0;
	}
	return fail(-ENOENT, "%s is not open", arg);
}

#define BUSY_LIB "libtest_klp_callbacks_busy.so"

static void *busy_thread(void *arg)
{
	busy.work();
	update_patch_state();
	return NULL;
}

static int busy_start(void)
{
	void *h = lib_handle(BUSY_LIB);
	int err;

	if (busy.running)
		return fail(-EBUSY, "the busy thread is running");
	if (!h)
		return fail(-ENOENT, "dlopen %s first", BUSY_LIB);
	busy.handle = h;
	busy.work = (void (*)(void))dlsym(h, "busymod_work_func");
	busy.set_block = (void (*)(int))dlsym(h, "busy_set_block");
	busy.entered = dlsym(h, "busy_entered");
	if (!busy.work || !busy.set_block || !busy.entered)
		return fail(-ENOENT, "%s lacks the busy functions", BUSY_LIB);

	__atomic_store_n(busy.entered, 0, __ATOMIC_RELEASE);
	busy.set_block(1);
	err = pthread_create(&busy.thread, NULL, busy_thread, NULL);
	if (err)
		return fail(-err, "pthread_create: %s", strerror(err));
	busy.running = true;

	/* As the kernel module waits for busymod_work_started. */
	for (int i = 0; i < 10000; i++) {
		if (__atomic_load_n(busy.entered, __ATOMIC_ACQUIRE))
			return 0;
		usleep(1000);
	}
	return fail(-ETIMEDOUT, "the busy thread did not enter");
}

static int busy_stop(void)
{
	if (!busy.running)
		return fail(-EINVAL, "the busy thread is not running");
	busy.set_block(0);
	pthread_join(busy.thread, NULL);
	busy.running = false;
	return 0;
}

static int do_busy(char *arg)
{
	if (!strcmp(arg, "start"))
		return busy_start();
	if (!strcmp(arg, "stop"))
		return busy_stop();
	return fail(-EINVAL, "usage: busy start|stop");
}

/* The threads of "hammer start N" (the kernel test's getpid loops). */
static struct {
	int run;
	int n;
	pthread_t *threads;
} hammer;

static void *hammer_thread(void *arg)
{
	while (__atomic_load_n(&hammer.run, __ATOMIC_ACQUIRE)) {
		syscall_getpid();
		usleep(100);
		update_patch_state();
	}
	return NULL;
}

static void hammer_stop(void)
{
	__atomic_store_n(&hammer.run, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < hammer.n; i++)
		pthread_join(hammer.threads[i], NULL);
	free(hammer.threads);
	hammer.threads = NULL;
	hammer.n = 0;
}

static int hammer_start(const char *count)
{
	char *end;
	long n = strtol(count, &end, 10);
	int err;

	if (!*count || *end || n < 1 || n > 1024)
		return fail(-EINVAL, "usage: hammer start N (1..1024)");
	if (hammer.n)
		return fail(-EBUSY, "hammer threads are running");
	hammer.threads = calloc((size_t)n, sizeof(*hammer.threads));
	if (!hammer.threads)
		return fail(-ENOMEM, "out of memory");
	__atomic_store_n(&klp_pending_threads, (int)n, __ATOMIC_RELEASE);
	__atomic_store_n(&hammer.run, 1, __ATOMIC_RELEASE);
	for (hammer.n = 0; hammer.n < n; hammer.n++) {
		err = pthread_create(&hammer.threads[hammer.n], NULL,
				     hammer_thread, NULL);
		if (err) {
			hammer_stop();
			return fail(-err, "pthread_create: %s", strerror(err));
		}
	}
	return 0;
}

static int do_hammer(char *arg)
{
	if (!strncmp(arg, "start ", 6))
		return hammer_start(arg + 6);
	if (!strcmp(arg, "stop")) {
		if (!hammer.n)
			return fail(-EINVAL, "no hammer threads");
		hammer_stop();
		return 0;
	}
	return fail(-EINVAL, "usage: hammer start N | hammer stop");
}

static int do_pending(char *arg)
{
	printf("%d\n", __atomic_load_n(&klp_pending_threads, __ATOMIC_ACQUIRE));
	return 0;
}

static bool quitting;

static int do_quit(char *arg)
{
	quitting = true;
	return 0;
}

static const struct command {
	const char *name;
	int (*run)(char *arg);
	bool marked; /* logged as "% <line>" before it runs */
	bool needs_arg;
} commands[] = {
    {"call", do_call, false, true},
    {"load", do_load, true, true},
    {"check", do_check, false, true},
    {"disable", do_disable, true, true},
    {"enable", do_enable, true, true},
    {"force", do_force, true, true},
    {"wait", do_wait, false, true},
    {"list", do_list, false, false},
    {"listjson", do_listjson, false, false},
    {"log", do_log, false, false},
    {"mark", do_mark, false, true},
    {"dlopen", do_dlopen, true, true},
    {"dlclose", do_dlclose, true, true},
    {"busy", do_busy, true, true},
    {"hammer", do_hammer, false, true},
    {"pending", do_pending, false, false},
    {"quit", do_quit, false, false},
};

static int run_command(char *line)
{
	size_t len = strcspn(line, " ");
	char *arg = line + len;

	while (*arg == ' ')
		arg++;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strlen(c->name) != len || strncmp(c->name, line, len))
			continue;
		if (c->needs_arg && !*arg)
			return fail(-EINVAL, "usage: %s ARG", c->name);
		if (c->marked)
			tlog("%% %s", line);
		return c->run(arg);
	}
	return fail(-EINVAL, "unknown command '%.*s'", (int)len, line);
}

static void answer(int rc)
{
	if (!rc) {
		puts("ok");
		return;
	}
	if (!errmsg[0])
		snprintf(errmsg, sizeof(errmsg), "%s", strerror(-rc));
	for (char *p = errmsg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	printf("err %d %s\n", rc, errmsg);
}

static void find_exe_dir(void)
{
	ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof(exe_dir) - 1);
	char *slash;

	if (n <= 0) {
		strcpy(exe_dir, ".");
		return;
	}
	exe_dir[n] = '\0';
	slash = strrchr(exe_dir, '/');
	if (slash)
		*slash = '\0';
}

/*
 * read_line() - one line of stdin with read(2), not stdio: while waiting the
 * main thread sits in the read() wrapper itself, holding no C library lock,
 * which is the injector's safe point (a thread inside fgets() holds the
 * stdin lock and is rightly refused).
 */
static ssize_t read_line(char *line, size_t size)
{
	static char buf[8192];
	static size_t have;
	size_t n;

	for (;;) {
		char *nl = memchr(buf, '\n', have);

		if (nl || have == sizeof(buf)) {
			n = nl ? (size_t)(nl - buf) + 1 : have;
			if (n >= size) {
				/* too long: drop it, answered as E2BIG */
				memmove(buf, buf + n, have - n);
				have -= n;
				line[0] = '\0';
				return -2;
			}
			memcpy(line, buf, n);
			line[n] = '\0';
			memmove(buf, buf + n, have - n);
			have -= n;
			return (ssize_t)n;
		}
		ssize_t r = read(STDIN_FILENO, buf + have, sizeof(buf) - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (!have)
				return -1;
			memcpy(line, buf, have); /* last line without newline */
			line[have] = '\0';
			n = have;
			have = 0;
			return (ssize_t)n;
		}
		have += (size_t)r;
	}
}

/**
 * main() - read commands from stdin and answer each on stdout
 *
 * Return: 0 at the end of the input or after "quit".
 */
int main(void)
{
	char line[4096];
	ssize_t got;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	find_exe_dir();

	while (!quitting && (got = read_line(line, sizeof(line))) != -1) {
		size_t n = strlen(line);

		errmsg[0] = '\0';
		if (got == -2) {
			rc = fail(-E2BIG, "command too long");
		} else {
			if (n && line[n - 1] == '\n')
				line[--n] = '\0';
			if (n && line[n - 1] == '\r')
				line[--n] = '\0';
			rt_resolve();
			rc = run_command(line);
		}
		update_patch_state();
		answer(rc);
	}

	if (busy.running)
		busy_stop();
	if (hammer.n)
		hammer_stop();
	return 0;
}
