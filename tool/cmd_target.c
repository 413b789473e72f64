// SPDX-License-Identifier: MIT
/*
 * cmd_target.c - a target process as the commands see it: opening it,
 * finding or injecting its runtime, calling the runtime, waiting for a
 * transition, and turning every failure into a message and an exit code.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uklp/livepatch.h>

#include "cmd.h"
#include "inject.h"
#include "prio.h"
#include "step.h"
#include "switch.h"

static const char not_changed[] = "the target was not changed";

static double secs(int ms)
{
	return ms < 0 ? 0 : ms / 1000.0;
}

static void permission_message(pid_t pid)
{
	cmd_err("not permitted to trace process %d (are you root or its "
		"owner? kernel.yama.ptrace_scope?)",
		(int)pid);
}

int cmd_sys_error(struct target *t, int err, const char *what, int started)
{
	switch (err) {
	case -ESRCH:
	case -ENOENT:
		if (started) {
			cmd_err("process %d exited during %s", (int)t->pid,
				what);
			return CMD_EXIT_FAILED;
		}
		cmd_err("no process %d", (int)t->pid);
		return CMD_EXIT_NOPROC;
	case -EPERM:
	case -EACCES:
		permission_message(t->pid);
		return CMD_EXIT_NOPROC;
	case -EBUSY:
		cmd_err(
		    "%s failed: a thread of process %d is traced by another "
		    "program (a debugger?); %s",
		    what, (int)t->pid, not_changed);
		return CMD_EXIT_FAILED;
	case -EAGAIN:
		cmd_err("%s failed: no thread of process %d reached a safe "
			"point in time (all busy in the C library or the "
			"loader); %s; try again",
			what, (int)t->pid, not_changed);
		return CMD_EXIT_FAILED;
	default:
		cmd_err("%s in process %d failed: %s", what, (int)t->pid,
			strerror(-err));
		return CMD_EXIT_FAILED;
	}
}

int target_open(struct target *t, pid_t pid, int quiet)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	if (pid == getpid()) {
		if (!quiet)
			cmd_err("process %d is uklp itself", (int)pid);
		return CMD_EXIT_FAILED;
	}
	ret = proc_open(pid, &t->p);
	if (ret) {
		if (quiet)
			return ret == -ESRCH || ret == -ENOENT ||
				       ret == -EPERM || ret == -EACCES
				   ? CMD_EXIT_NOPROC
				   : CMD_EXIT_FAILED;
		return cmd_sys_error(t, ret, "looking at the process", 0);
	}
	t->opened = 1;
	cmd_note("process %d: %zu objects mapped", (int)pid, t->p.nobjs);
	return 0;
}

void target_close(struct target *t)
{
	if (t->opened)
		proc_close(&t->p);
	t->opened = 0;
}

int target_has_runtime(struct target *t)
{
	return proc_find_obj(&t->p, "libuklp.so") != NULL;
}

int target_read_status(struct target *t, struct uklp_status *st)
{
	uintptr_t addr = 0;
	int ret;

	if (t->st_addr) {
		ret = proc_read(&t->p, t->st_addr, st, sizeof(*st));
		if (!ret && (st->magic != UKLP_ABI_STATUS_MAGIC ||
			     st->version != UKLP_ABI_STATUS_VERSION))
			ret = -EPROTO;
		return ret;
	}
	ret = switch_read_status(&t->p, st, &addr);
	if (!ret)
		t->st_addr = addr;
	return ret;
}

/*
 * The runtime to inject: $UKLP_RUNTIME, else libuklp.so next to this
 * binary, else ../lib/libuklp.so relative to it. @out has PATH_MAX bytes.
 */
static int runtime_path(char *out)
{
	const char *env = getenv("UKLP_RUNTIME");
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	ssize_t n;
	char *slash;

	if (env && *env) {
		if (!realpath(env, out) || access(out, R_OK)) {
			cmd_err("UKLP_RUNTIME=%s: %s", env, strerror(errno));
			return -1;
		}
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		cmd_err("cannot find the uklp binary (/proc/self/exe): %s; set "
			"UKLP_RUNTIME to the path of libuklp.so",
			strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(cand, sizeof(cand), "%s/libuklp.so", exe);
	if (!access(cand, R_OK) && realpath(cand, out))
		return 0;
	snprintf(cand, sizeof(cand), "%s/../lib/libuklp.so", exe);
	if (!access(cand, R_OK) && realpath(cand, out))
		return 0;
	cmd_err("cannot find libuklp.so in %s or %s/../lib; set UKLP_RUNTIME "
		"to its path",
		exe, exe);
	return -1;
}

/* Wait for a runtime that is mapped but still initializing. */
static int runtime_ready(struct target *t, struct uklp_status *st)
{
	int ret = -EAGAIN;

	for (int i = 0; i < 200; i++) {
		ret = target_read_status(t, st);
		if (ret && ret != -EPROTO && ret != -ENOENT)
			return ret;
		if (!ret && st->ready)
			return 0;
		/* Not yet initialized (magic written last) or not found. */
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
		proc_refresh(&t->p);
		t->st_addr = 0;
	}
	return ret ? ret : -ETIMEDOUT;
}

int target_runtime(struct target *t, int inject, int *injected, const char *why)
{
	struct uklp_status st;
	char lib[PATH_MAX];
	int ret;

	if (injected)
		*injected = 0;
	if (!target_has_runtime(t)) {
		if (!inject) {
			cmd_err("process %d has no uklp runtime (libuklp.so is "
				"not loaded): %s",
				(int)t->pid, why);
			return CMD_EXIT_FAILED;
		}
		if (runtime_path(lib)) {
			cmd_err(
			    "the runtime could not be injected into process "
			    "%d; %s",
			    (int)t->pid, not_changed);
			return CMD_EXIT_NORUNTIME;
		}
		cmd_note("injecting %s into process %d", lib, (int)t->pid);
		prio_boost_self();
		ret = inject_runtime(&t->p, lib, CMD_INJECT_TIMEOUT_MS);
		if (ret == -ESRCH || ret == -EPERM || ret == -EACCES)
			return cmd_sys_error(t, ret, "injecting the runtime",
					     0);
		if (ret) {
			if (ret == -EAGAIN)
				cmd_err("could not inject the runtime %s into "
					"process %d: no thread reached a safe "
					"point within %g s; %s; try again",
					lib, (int)t->pid,
					secs(CMD_INJECT_TIMEOUT_MS),
					not_changed);
			else
				cmd_err("could not inject the runtime %s into "
					"process %d: %s",
					lib, (int)t->pid, strerror(-ret));
			return CMD_EXIT_NORUNTIME;
		}
		step("runtime injected");
		if (injected)
			*injected = 1;
		t->st_addr = 0;
		proc_refresh(&t->p);
	}
	ret = runtime_ready(t, &st);
	if (ret == -ESRCH)
		return cmd_sys_error(t, ret, "looking for the runtime", 0);
	if (ret == -ENOENT) {
		cmd_err("process %d has a libuklp.so without a uklp_status "
			"(an older or foreign runtime) that this uklp cannot "
			"talk to; %s",
			(int)t->pid, not_changed);
		return inject ? CMD_EXIT_NORUNTIME : CMD_EXIT_FAILED;
	}
	if (ret == -EPROTO) {
		cmd_err("process %d has a libuklp.so this uklp cannot talk to "
			"(runtime protocol is not %d); %s",
			(int)t->pid, UKLP_ABI_STATUS_VERSION, not_changed);
		return inject ? CMD_EXIT_NORUNTIME : CMD_EXIT_FAILED;
	}
	if (ret) {
		cmd_err("the runtime in process %d is not ready: %s; %s",
			(int)t->pid, strerror(-ret), not_changed);
		return inject ? CMD_EXIT_NORUNTIME : CMD_EXIT_FAILED;
	}
	cmd_note("process %d: runtime ready, uklp_status at %#lx", (int)t->pid,
		 (unsigned long)t->st_addr);
	return 0;
}

int target_call(struct target *t, int op, const char *arg, const char *what)
{
	char msg[UKLP_ABI_MSG_MAX];
	uint64_t head;
	long rc = 0;
	int ret;

	cmd_note("process %d: %s (runtime op %d, \"%s\")", (int)t->pid, what,
		 op, arg ? arg : "");
	msg[0] = '\0';
	t->answer[0] = '\0';
	if (target_log_head(t, &head))
		head = UINT64_MAX;
	prio_boost_self();
	ret = inject_tool_call(&t->p, op, arg, &rc, msg, sizeof(msg),
			       CMD_CALL_TIMEOUT_MS);
	if (ret == -ETIMEDOUT) {
		cmd_err("%s: no answer from the runtime in process %d within "
			"%g s; the operation may still be running: see `uklp "
			"list %d` and `uklp log %d`",
			what, (int)t->pid, secs(CMD_CALL_TIMEOUT_MS),
			(int)t->pid, (int)t->pid);
		return CMD_EXIT_FAILED;
	}
	if (ret)
		return cmd_sys_error(t, ret, what, 1);
	step("runtime answered");
	cmd_last_rc = rc;
	cmd_note("process %d: runtime answered %ld%s%s", (int)t->pid, rc,
		 *msg ? ": " : "", msg);
	msg[sizeof(msg) - 1] = '\0';
	if (!rc) {
		memcpy(t->answer, msg, sizeof(t->answer));
		return 0;
	}
	if (!*msg)
		snprintf(msg, sizeof(msg), "%s", strerror((int)-rc));
	/* A refused operation never changes the process (control.h). */
	if (strstr(msg, "nothing was changed") || strstr(msg, "not changed"))
		cmd_err("%s refused by process %d: %s", what, (int)t->pid, msg);
	else
		cmd_err("%s refused by process %d: %s; %s", what, (int)t->pid,
			msg, not_changed);
	/* The runtime's own words on why (the kernel's pr_err lines). */
	if (head != UINT64_MAX)
		target_log_since(t, head, UKLP_LOG_WARNING);
	return rc == -ENOEXEC ? CMD_EXIT_BADPATCH : CMD_EXIT_FAILED;
}

int target_wait(struct target *t, int timeout_ms, const char *patch)
{
	struct switch_report r;
	struct uklp_status st;
	const char *name = patch;
	int unpatching = 0;
	int ret;

	memset(&r, 0, sizeof(r));
	prio_boost_self();
	cmd_note("process %d: waiting for the transition (%s)", (int)t->pid,
		 timeout_ms < 0 ? "no limit" : "with a timeout");
	ret = switch_wait(&t->p, timeout_ms, 1, &r);
	if (!ret) {
		step("transition done");
		cmd_note("process %d: transition done, %zu threads",
			 (int)t->pid, r.threads);
		return 0;
	}
	if (ret == -ESRCH) {
		cmd_err("process %d exited during the transition", (int)t->pid);
		return CMD_EXIT_FAILED;
	}
	if (!target_read_status(t, &st)) {
		if (st.target < 0) {
			/* Finished after all (the runtime completed it). */
			return 0;
		}
		unpatching = st.target == KLP_UNPATCHED;
		st.transition_patch[sizeof(st.transition_patch) - 1] = '\0';
		if (st.transition_patch[0])
			name = st.transition_patch;
	} else if (kill(t->pid, 0) && errno == ESRCH) {
		cmd_err("process %d exited during the transition", (int)t->pid);
		return CMD_EXIT_FAILED;
	}
	if (ret == -ETIMEDOUT)
		cmd_err(
		    "the %s transition of patch '%s' in process %d is still "
		    "in progress after %g s",
		    unpatching ? "unpatching" : "patching", name, (int)t->pid,
		    secs(timeout_ms));
	else
		cmd_err("could not drive the %s transition of patch '%s' in "
			"process %d: %s; it is still in progress",
			unpatching ? "unpatching" : "patching", name,
			(int)t->pid, strerror(-ret));
	if (r.threads)
		cmd_err("%zu/%zu threads switched", r.switched, r.threads);
	if (r.blocker) {
		r.blocker_func[sizeof(r.blocker_func) - 1] = '\0';
		if (r.blocker_func[0])
			cmd_err("thread %d blocks it (in %s)", (int)r.blocker,
				r.blocker_func);
		else
			cmd_err("thread %d blocks it", (int)r.blocker);
	}
	cmd_err("the process is consistent: each thread runs either the old "
		"or the new functions");
	cmd_err("to wait more:  uklp wait %d", (int)t->pid);
	if (unpatching)
		cmd_err("to reverse:    uklp enable %d %s", (int)t->pid, name);
	else
		cmd_err("to reverse:    uklp disable %d %s", (int)t->pid, name);
	cmd_err("to force:      uklp force %d %s (its code then stays loaded "
		"for good)",
		(int)t->pid, name);
	cmd_last_rc = -ETIMEDOUT;
	return CMD_EXIT_INPROGRESS;
}
