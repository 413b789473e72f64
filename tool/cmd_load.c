// SPDX-License-Identifier: MIT
/*
 * cmd_load.c - getting a patch into a process: `uklp load`, its dry run
 * `uklp check`, and `uklp inject` (only the runtime). The patch file is
 * checked from outside first, so that a wrong file never touches the
 * target.
 */
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uklp/livepatch.h>

#include "cmd.h"
#include "elfsym.h"
#include "step.h"

static const char not_changed[] = "the target was not changed";

/*
 * A patch file is an ELF shared object that exports uklp_patch_desc in
 * its dynamic symbol table (KLP_PATCH()). @abs gets its absolute path
 * (the target resolves paths from its own working directory).
 */
static int check_patch_file(const char *arg, char *abs, uint64_t *desc_addr)
{
	struct elfsym_file f;
	struct elfsym_sym sym;
	struct stat sb;
	int ret;

	if (!realpath(arg, abs) || stat(abs, &sb)) {
		cmd_err("cannot use patch %s: %s; %s", arg, strerror(errno),
			not_changed);
		return CMD_EXIT_BADPATCH;
	}
	if (!S_ISREG(sb.st_mode)) {
		cmd_err("%s is not a patch: not a regular file; %s", arg,
			not_changed);
		return CMD_EXIT_BADPATCH;
	}
	ret = elfsym_open(abs, &f);
	if (ret == -ENOEXEC) {
		cmd_err("%s is not a patch: not an x86-64 ELF file (a patch is "
			"a shared object built with KLP_PATCH()); %s",
			arg, not_changed);
		return CMD_EXIT_BADPATCH;
	}
	if (ret) {
		cmd_err("cannot read patch %s: %s; %s", arg, strerror(-ret),
			not_changed);
		return CMD_EXIT_BADPATCH;
	}
	if (!f.is_pie_or_dso) {
		cmd_err("%s is not a patch: an executable, not a shared object "
			"(build it with -shared -fPIC); %s",
			arg, not_changed);
		ret = CMD_EXIT_BADPATCH;
		goto out;
	}
	ret = elfsym_lookup(&f, UKLP_PATCH_SYMBOL, 0, &sym, NULL);
	if (ret == -ENOENT) {
		cmd_err("%s is not a patch: it does not export %s (a patch "
			"ends with KLP_PATCH(patch)); %s",
			arg, UKLP_PATCH_SYMBOL, not_changed);
		ret = CMD_EXIT_BADPATCH;
		goto out;
	}
	if (ret) {
		cmd_err("%s is a bad patch: its symbol %s is defined more than "
			"once; %s",
			arg, UKLP_PATCH_SYMBOL, not_changed);
		ret = CMD_EXIT_BADPATCH;
		goto out;
	}
	/* Hidden symbols become local at link time: not in .dynsym. */
	if (sym.bind == STB_LOCAL) {
		cmd_err("%s is a bad patch: %s is not exported (hidden "
			"visibility or a version script?); %s",
			arg, UKLP_PATCH_SYMBOL, not_changed);
		ret = CMD_EXIT_BADPATCH;
		goto out;
	}
	if (sym.type != STT_OBJECT ||
	    sym.size < sizeof(struct uklp_patch_desc)) {
		cmd_err("%s is a bad patch: %s is not a patch descriptor "
			"object; %s",
			arg, UKLP_PATCH_SYMBOL, not_changed);
		ret = CMD_EXIT_BADPATCH;
		goto out;
	}
	*desc_addr = sym.value;
	cmd_note("%s: a patch (%s at %#lx%s%s)", abs, UKLP_PATCH_SYMBOL,
		 (unsigned long)sym.value, f.build_id[0] ? ", build-id " : "",
		 f.build_id);
	ret = 0;
out:
	elfsym_close(&f);
	return ret;
}

/*
 * The operands of load and check: options (@flags), PID (none with --all)
 * and a patch file that checks out from outside; its absolute path, patch
 * name and the link-time address of its descriptor.
 */
static int patch_cmd_args(int argc, char **argv, int flags, struct cmd_opts *o,
			  pid_t *pid, char *abs, char *name, size_t namelen,
			  uint64_t *desc_addr)
{
	int ret;

	ret = cmd_options(argc, argv, flags, o);
	if (ret)
		return ret;
	if (o->all) {
		if (argc - o->first == 2)
			return cmd_usage_error(argv[0],
					       "--all and a PID together: "
					       "give one or the other");
		ret = cmd_operands(argc, argv, o, 1, 1, "PATCH.so");
		*pid = 0;
	} else {
		ret = cmd_operands(argc, argv, o, 2, 2, "PID PATCH.so");
		if (!ret)
			ret = cmd_parse_pid(argv[0], argv[o->first], pid);
	}
	if (!ret)
		ret = check_patch_file(argv[argc - 1], abs, desc_addr);
	if (!ret)
		cmd_patch_name(abs, name, namelen);
	return ret;
}

int cmd_load_into(struct target *t, const char *abs, const char *name,
		  int timeout_ms, int nowait)
{
	char what[UKLP_ABI_NAME_MAX + 32];
	int injected, ret;

	snprintf(what, sizeof(what), "load of patch '%s'", name);
	ret = target_runtime(t, 1, &injected, NULL);
	if (ret)
		return ret;
	if (injected)
		cmd_info("runtime libuklp.so injected into process %d",
			 (int)t->pid);
	ret = target_call(t, UKLP_OP_LOAD, abs, what);
	if (ret) {
		if (injected)
			cmd_err("(the runtime stays loaded in process %d; no "
				"patch was applied)",
				(int)t->pid);
		return ret;
	}
	if (nowait)
		return 0;
	return target_wait(t, timeout_ms, name);
}

/**
 * cmd_load() - uklp load [--timeout S] [--no-wait] PID PATCH.so, or
 * uklp load --all [--timeout S] [--no-wait] PATCH.so
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "load"
 *
 * Return: an exit code.
 */
int cmd_load(int argc, char **argv)
{
	char abs[PATH_MAX], name[UKLP_ABI_NAME_MAX];
	uint64_t desc_addr;
	struct cmd_opts o;
	struct target t;
	pid_t pid;
	int ret;

	ret = patch_cmd_args(argc, argv,
			     CMD_OPT_TIMEOUT | CMD_OPT_NOWAIT | CMD_OPT_ALL, &o,
			     &pid, abs, name, sizeof(name), &desc_addr);
	if (ret)
		return ret;
	step("patch file checked");
	if (o.all)
		return cmd_load_all(abs, name, desc_addr, &o);

	ret = target_open(&t, pid, 0);
	if (ret)
		return ret;
	ret = cmd_load_into(&t, abs, name, o.timeout_ms, o.nowait);
	if (!ret && o.nowait)
		printf("patch '%s' loaded in process %d; its transition goes "
		       "on (see `uklp list %d`, `uklp wait %d`)\n",
		       name, (int)pid, (int)pid, (int)pid);
	else if (!ret)
		printf("patch '%s' enabled in process %d\n", name, (int)pid);
	target_close(&t);
	return ret;
}

/**
 * cmd_check() - uklp check PID PATCH.so
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "check"
 *
 * Return: an exit code.
 */
int cmd_check(int argc, char **argv)
{
	char abs[PATH_MAX], name[UKLP_ABI_NAME_MAX],
	    what[UKLP_ABI_NAME_MAX + 32];
	uint64_t desc_addr;
	struct cmd_opts o;
	struct target t;
	int injected, ret;
	pid_t pid;

	ret = patch_cmd_args(argc, argv, 0, &o, &pid, abs, name, sizeof(name),
			     &desc_addr);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "check of patch '%s'", name);

	ret = target_open(&t, pid, 0);
	if (ret)
		return ret;
	ret = target_runtime(&t, 1, &injected, NULL);
	if (ret)
		goto out;
	if (injected)
		cmd_info(
		    "runtime libuklp.so injected into process %d to run the "
		    "check (it stays loaded; no patch is applied)",
		    (int)pid);
	ret = target_call(&t, UKLP_OP_CHECK, abs, what);
	/* The runtime's report: where each object's symbols came from. */
	if (!ret && t.answer[0])
		printf("%s\n", t.answer);
	if (!ret)
		printf("ok: %s can be applied to %d\n", argv[o.first + 1],
		       (int)pid);
out:
	target_close(&t);
	return ret;
}

/**
 * cmd_inject() - uklp inject PID
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "inject"
 *
 * Return: an exit code.
 */
int cmd_inject(int argc, char **argv)
{
	struct cmd_opts o;
	struct target t;
	int injected, ret;
	pid_t pid;

	ret = cmd_pid_args(argc, argv, 0, &o, &pid);
	if (ret)
		return ret;
	ret = target_open(&t, pid, 0);
	if (ret)
		return ret;
	ret = target_runtime(&t, 1, &injected, NULL);
	if (!ret && injected)
		printf("runtime libuklp.so injected into process %d\n",
		       (int)pid);
	else if (!ret)
		printf("runtime libuklp.so was already loaded in process %d\n",
		       (int)pid);
	target_close(&t);
	return ret;
}
