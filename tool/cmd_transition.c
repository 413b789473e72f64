// SPDX-License-Identifier: MIT
/*
 * cmd_transition.c - moving a loaded patch between its states: `uklp
 * disable` (echo 0 > enabled), `uklp enable` (echo 1 > enabled during the
 * unpatching transition), `uklp force` (echo 1 > force) and `uklp wait`.
 */
#include <stdio.h>
#include <string.h>

#include <uklp/livepatch.h>

#include "cmd.h"

/* disable and enable: call @op on PATCH, then wait as asked. */
static int transition_cmd(int argc, char **argv, int op, const char *verb,
			  const char *done)
{
	char name[UKLP_ABI_NAME_MAX], what[UKLP_ABI_NAME_MAX + 64];
	struct cmd_opts o;
	struct target t;
	pid_t pid;
	int ret;

	ret = cmd_options(argc, argv, CMD_OPT_TIMEOUT | CMD_OPT_NOWAIT, &o);
	if (!ret)
		ret = cmd_operands(argc, argv, &o, 2, 2, "PID PATCH");
	if (!ret)
		ret = cmd_parse_pid(argv[0], argv[o.first], &pid);
	if (ret)
		return ret;
	cmd_patch_name(argv[o.first + 1], name, sizeof(name));
	if (!name[0])
		return cmd_usage_error(argv[0], "'%s' is not a patch name",
				       argv[o.first + 1]);
	snprintf(what, sizeof(what), "%s of patch '%s'", verb, name);

	ret = target_open(&t, pid, 0);
	if (ret)
		return ret;
	ret = target_runtime(&t, 0, NULL,
			     "no patch to change; the target was not changed");
	if (ret)
		goto out;
	ret = target_call(&t, op, name, what);
	if (ret)
		goto out;
	if (o.nowait) {
		printf("patch '%s': transition started in process %d (see "
		       "`uklp list %d`, `uklp wait %d`)\n",
		       name, (int)pid, (int)pid, (int)pid);
		goto out;
	}
	ret = target_wait(&t, o.timeout_ms, name);
	if (!ret)
		printf("patch '%s' %s in process %d\n", name, done, (int)pid);
out:
	target_close(&t);
	return ret;
}

/**
 * cmd_disable() - uklp disable [--timeout S] [--no-wait] PID PATCH
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "disable"
 *
 * Return: an exit code.
 */
int cmd_disable(int argc, char **argv)
{
	return transition_cmd(argc, argv, UKLP_OP_DISABLE, "disable",
			      "disabled");
}

/**
 * cmd_enable() - uklp enable [--timeout S] [--no-wait] PID PATCH
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "enable"
 *
 * Return: an exit code.
 */
int cmd_enable(int argc, char **argv)
{
	return transition_cmd(argc, argv, UKLP_OP_ENABLE, "enable", "enabled");
}

/**
 * cmd_force() - uklp force PID PATCH
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "force"
 *
 * Return: an exit code.
 */
int cmd_force(int argc, char **argv)
{
	char name[UKLP_ABI_NAME_MAX], what[UKLP_ABI_NAME_MAX + 64];
	struct uklp_status st;
	struct cmd_opts o;
	struct target t;
	pid_t pid;
	int ret, unpatching = 0;

	ret = cmd_options(argc, argv, 0, &o);
	if (!ret)
		ret = cmd_operands(argc, argv, &o, 2, 2, "PID PATCH");
	if (!ret)
		ret = cmd_parse_pid(argv[0], argv[o.first], &pid);
	if (ret)
		return ret;
	cmd_patch_name(argv[o.first + 1], name, sizeof(name));
	snprintf(what, sizeof(what), "force of patch '%s'", name);

	ret = target_open(&t, pid, 0);
	if (ret)
		return ret;
	ret = target_runtime(&t, 0, NULL,
			     "no patch to force; the target was not changed");
	if (ret)
		goto out;
	if (!target_read_status(&t, &st))
		unpatching = st.target == KLP_UNPATCHED;
	ret = target_call(&t, UKLP_OP_FORCE, name, what);
	if (ret)
		goto out;
	cmd_err("patch '%s' forced in process %d: threads were switched "
		"without the stack check; its code stays loaded for good",
		name, (int)pid);
	/* The runtime completed the transition; let the tool confirm it. */
	ret = target_wait(&t, 5000, name);
	if (!ret)
		printf("patch '%s' %s in process %d (forced)\n", name,
		       unpatching ? "disabled" : "enabled", (int)pid);
out:
	target_close(&t);
	return ret;
}

/**
 * cmd_wait() - uklp wait [--timeout S] PID
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "wait"
 *
 * Return: an exit code.
 */
int cmd_wait(int argc, char **argv)
{
	char name[UKLP_ABI_NAME_MAX];
	struct uklp_status st;
	struct cmd_opts o;
	struct target t;
	pid_t pid;
	int ret;

	ret = cmd_pid_args(argc, argv, CMD_OPT_TIMEOUT, &o, &pid);
	if (ret)
		return ret;
	ret = target_open(&t, pid, 0);
	if (ret)
		return ret;
	ret = target_runtime(&t, 0, NULL, "no transition to wait for");
	if (ret)
		goto out;
	ret = target_read_status(&t, &st);
	if (ret) {
		ret = cmd_sys_error(&t, ret, "reading the runtime's status", 0);
		goto out;
	}
	if (st.target < 0) {
		printf("no transition in progress in process %d\n", (int)pid);
		goto out;
	}
	snprintf(name, sizeof(name), "%.*s", (int)sizeof(st.transition_patch),
		 st.transition_patch);
	ret = target_wait(&t, o.timeout_ms, name);
	if (!ret)
		printf("patch '%s': transition complete in process %d\n", name,
		       (int)pid);
out:
	target_close(&t);
	return ret;
}
