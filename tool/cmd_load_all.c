// SPDX-License-Identifier: MIT
/*
 * cmd_load_all.c - `uklp load --all PATCH.so`: find every process that has
 * the patch's objects loaded and do to each, one after another, what
 * `uklp load PID PATCH.so` does (cmd_load_into()).
 *
 * A process matches when each klp_object of the patch is loaded in it:
 * a named one (a library) by file base name or DT_SONAME, as the runtime
 * matches it, and with the build-id the object pins, if it pins one; the
 * main program (name NULL) only through the build-id it must pin - without
 * one it would match every process, and --all refuses such a patch.
 * Processes are only looked at through /proc/PID/maps and their files
 * until one matches.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd.h"
#include "patchdesc.h"

/* Linux's PF_KTHREAD (the flags field of /proc/PID/stat). */
#define PF_KTHREAD_FLAG 0x00200000UL

/* What identifies one file (soname, build-id), read once per file. */
struct ident {
	char *path;
	uint64_t inode;
	int err; /* reading it failed */
	char *soname;
	char build_id[129];
};

struct ident_cache {
	struct ident *v;
	size_t n;
};

/* The counts and the exit code of a run. */
struct all_run {
	size_t patched, failed, already, denied, exited, unreadable;
	int first_fail;
};

static const struct ident *ident_of(struct ident_cache *c,
				    const struct proc_obj *o)
{
	struct elfsym_file f;
	struct ident *n, *id;

	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].inode == o->inode && !strcmp(c->v[i].path, o->path))
			return &c->v[i];
	n = realloc(c->v, (c->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	c->v = n;
	id = &c->v[c->n];
	memset(id, 0, sizeof(*id));
	id->path = strdup(o->path);
	if (!id->path)
		return NULL;
	id->inode = o->inode;
	c->n++;
	id->err = proc_obj_ident(o, &f);
	if (!id->err) {
		if (f.soname)
			id->soname = strdup(f.soname);
		snprintf(id->build_id, sizeof(id->build_id), "%s", f.build_id);
		elfsym_close(&f);
	}
	return id;
}

static void ident_cache_free(struct ident_cache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].path);
		free(c->v[i].soname);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* Is the object's file base name @name (" (deleted)" aside)? */
static int base_name_is(const char *path, const char *name)
{
	static const char deleted[] = " (deleted)";
	const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t len = strlen(b), dl = sizeof(deleted) - 1;

	if (len > dl && !strcmp(b + len - dl, deleted))
		len -= dl;
	return strlen(name) == len && !strncmp(b, name, len);
}

/* Does loaded object @o stand for the patch's object @po (named)? */
static int obj_matches(struct ident_cache *c, const struct proc_obj *o,
		       const struct patchdesc_obj *po)
{
	const struct ident *id = NULL;

	if (!base_name_is(o->path, po->name)) {
		id = ident_of(c, o);
		if (!id || id->err || !id->soname ||
		    strcmp(id->soname, po->name))
			return 0;
	}
	if (!po->build_id)
		return 1;
	if (!id)
		id = ident_of(c, o);
	return id && !id->err && !strcasecmp(id->build_id, po->build_id);
}

/*
 * Does process @p have every object of the patch? 1, 0, or -EPERM when
 * that cannot be told (its program is not ours to look at).
 */
static int process_matches(struct ident_cache *c, struct proc *p,
			   const struct patchdesc *pd)
{
	for (size_t i = 0; i < pd->nobjs; i++) {
		const struct patchdesc_obj *po = &pd->objs[i];
		const struct ident *id;
		struct proc_obj *mo;
		int found = 0;

		if (!po->name) {
			errno = 0;
			mo = proc_main_obj(p);
			if (!mo)
				return errno == EACCES || errno == EPERM
					   ? -EPERM
					   : 0;
			id = ident_of(c, mo);
			if (!id || id->err || !po->build_id ||
			    strcasecmp(id->build_id, po->build_id))
				return 0;
			continue;
		}
		for (size_t k = 0; k < p->nobjs && !found; k++)
			found = obj_matches(c, &p->objs[k], po);
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * A process to look at: not a kernel thread, not a zombie. -ESRCH when it
 * is gone.
 */
static int live_user_process(pid_t pid)
{
	char fn[64], buf[1024], *s;
	unsigned long flags = 0;
	char state = 0;
	size_t n;
	FILE *f;

	snprintf(fn, sizeof(fn), "/proc/%d/stat", (int)pid);
	f = fopen(fn, "re");
	if (!f)
		return -ESRCH;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ppid pgrp session tty_nr tpgid flags ..." */
	s = strrchr(buf, ')');
	if (!s ||
	    sscanf(s + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return -ESRCH;
	if (state == 'Z' || state == 'X' || state == 'x')
		return 0;
	return !(flags & PF_KTHREAD_FLAG);
}

/* "libfoo.so.1 and the program with build-id ..." into @buf. */
static void describe_objects(const struct patchdesc *pd, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < pd->nobjs && pos < len; i++) {
		const struct patchdesc_obj *po = &pd->objs[i];
		int n;

		if (po->name)
			n = snprintf(buf + pos, len - pos, "%s%s%s%s%s",
				     i ? " and " : "", po->name,
				     po->build_id ? " (build-id " : "",
				     po->build_id ? po->build_id : "",
				     po->build_id ? ")" : "");
		else
			n = snprintf(buf + pos, len - pos,
				     "%sthe program with build-id %s",
				     i ? " and " : "", po->build_id);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
}

/*
 * Is patch @name listed in the target already: 1 enabled, 2 enabled and
 * its transition still going, 0 not listed (or disabled, on its way out:
 * the load then says why it cannot be loaded), -errno unknown.
 */
static int listed_state(struct target *t, const char *name)
{
	size_t nlen = strlen(name);
	int enabled = 0, transition = 0, in = 0;
	char *text, *line, *save = NULL;
	int ret;

	if (!target_has_runtime(t))
		return 0;
	ret = target_list_text(t, 0, &text);
	if (ret)
		return ret;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != ' ' && line[0] != '\t') {
			if (in)
				break;
			in = !strncmp(line, name, nlen) && !line[nlen];
			continue;
		}
		if (!in)
			continue;
		sscanf(line, " enabled: %d", &enabled);
		sscanf(line, " transition: %d", &transition);
	}
	free(text);
	if (!in || !enabled)
		return 0;
	return transition ? 2 : 1;
}

/* A process that vanished, or that we may not trace. */
static void not_there(struct all_run *r, pid_t pid, const char *comm)
{
	if (kill(pid, 0) && errno == ESRCH) {
		printf("%d %s: skipped: exited\n", (int)pid, comm);
		r->exited++;
	} else {
		printf("%d %s: skipped: permission denied\n", (int)pid, comm);
		r->denied++;
	}
}

/* Patch one matching process and print its line. */
static void load_one(struct all_run *r, pid_t pid, const char *abs,
		     const char *name, const struct cmd_opts *o)
{
	struct target t;
	char comm[64];
	int ret;

	cmd_read_comm(pid, comm, sizeof(comm));
	cmd_err_reset();
	ret = target_open(&t, pid, 1);
	if (ret == CMD_EXIT_NOPROC) {
		not_there(r, pid, comm);
		return;
	}
	if (!ret) {
		switch (listed_state(&t, name)) {
		case 1:
			printf("%d %s: already patched\n", (int)pid, comm);
			r->already++;
			target_close(&t);
			return;
		case 2:
			printf("%d %s: already patched (its transition goes "
			       "on: uklp wait %d)\n",
			       (int)pid, comm, (int)pid);
			r->already++;
			target_close(&t);
			return;
		}
		ret = cmd_load_into(&t, abs, name, o->timeout_ms, o->nowait);
		target_close(&t);
	}
	if (!ret) {
		printf("%d %s: patched%s\n", (int)pid, comm,
		       o->nowait ? " (its transition goes on)" : "");
		r->patched++;
		return;
	}
	if (ret == CMD_EXIT_NOPROC) {
		not_there(r, pid, comm);
		return;
	}
	printf("%d %s: failed: %s\n", (int)pid, comm,
	       *cmd_err_first() ? cmd_err_first() : "(no reason given)");
	r->failed++;
	if (!r->first_fail)
		r->first_fail = ret;
}

/* The patch must tell which processes are meant (see the top). */
static int check_patch_objects(const struct patchdesc *pd)
{
	for (size_t i = 0; i < pd->nobjs; i++)
		if (!pd->objs[i].name && !pd->objs[i].build_id)
			return cmd_usage_error(
			    "load",
			    "--all needs the patch to name its libraries or "
			    "pin the program's build-id: a patch for 'the "
			    "main program' would match every process; nothing "
			    "was done (patch processes one by one with `uklp "
			    "load PID PATCH.so`)");
	return 0;
}

int cmd_load_all(const char *abs, const char *name, uint64_t desc_addr,
		 const struct cmd_opts *o)
{
	struct ident_cache cache = {0};
	struct all_run r = {0};
	struct patchdesc pd;
	char why[256], objs[1024];
	pid_t *pids, self = getpid();
	size_t npids, skipped;
	int ret;

	ret = patchdesc_read(abs, desc_addr, &pd, why, sizeof(why));
	if (ret) {
		cmd_err("%s is a bad patch: %s; nothing was done", abs,
			ret == -ENOEXEC ? why : strerror(-ret));
		return CMD_EXIT_BADPATCH;
	}
	ret = check_patch_objects(&pd);
	if (ret)
		goto out_pd;
	describe_objects(&pd, objs, sizeof(objs));
	cmd_note("patch '%s' is for the processes that have %s", name, objs);

	ret = proc_pids(&pids, &npids);
	if (ret) {
		cmd_err("cannot read /proc: %s; nothing was done",
			strerror(-ret));
		ret = CMD_EXIT_FAILED;
		goto out_pd;
	}
	for (size_t i = 0; i < npids; i++) {
		struct proc view;
		int m;

		if (pids[i] == self || live_user_process(pids[i]) != 1)
			continue;
		ret = proc_open_maps(pids[i], &view);
		if (ret) {
			/* Gone meanwhile, or not ours to read: cannot tell. */
			if (ret == -EPERM)
				r.unreadable++;
			continue;
		}
		m = process_matches(&cache, &view, &pd);
		proc_close(&view);
		if (m == -EPERM)
			r.unreadable++;
		if (m != 1)
			continue;
		cmd_note("process %d has %s", (int)pids[i], objs);
		load_one(&r, pids[i], abs, name, o);
		fflush(stdout);
	}
	free(pids);

	skipped = r.already + r.denied + r.exited;
	printf("%zu patched, %zu failed, %zu skipped", r.patched, r.failed,
	       skipped);
	if (skipped) {
		const char *sep = " (";

		if (r.already) {
			printf("%s%zu already patched", sep, r.already);
			sep = ", ";
		}
		if (r.denied) {
			printf("%s%zu not permitted", sep, r.denied);
			sep = ", ";
		}
		if (r.exited)
			printf("%s%zu exited", sep, r.exited);
		printf(")");
	}
	printf("\n");
	if (r.unreadable)
		cmd_info("%zu process%s could not be looked at (not "
			 "permitted)%s",
			 r.unreadable, r.unreadable == 1 ? "" : "es",
			 geteuid() ? "; run as root to patch every process"
				   : "");

	if (r.first_fail) {
		ret = r.first_fail;
	} else if (r.denied) {
		cmd_err("%zu process%s with %s could not be traced (not "
			"permitted)",
			r.denied, r.denied == 1 ? "" : "es", objs);
		ret = CMD_EXIT_NOPROC;
	} else if (!r.patched && !r.already) {
		cmd_err("no process has %s loaded; nothing was done", objs);
		ret = CMD_EXIT_NOPROC;
	} else {
		ret = CMD_EXIT_OK;
	}
out_pd:
	ident_cache_free(&cache);
	patchdesc_free(&pd);
	return ret;
}
