// SPDX-License-Identifier: MIT
/*
 * cmd_list.c - `uklp list`: the /sys/kernel/livepatch tree of one process,
 * or of every process that has the runtime loaded. The runtime keeps the
 * text ready in its memory (uklp_status.list_addr / list_json_addr, under
 * text_seq); it is copied with process_vm_readv, nothing is stopped.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

/**
 * target_list_text() - copy the runtime's patch list text
 * @t:		the target (its runtime is ready)
 * @json:	the JSON text instead of the tree
 * @out:	out: malloc'ed, NUL-terminated
 *
 * Retried while the runtime rewrites it.
 *
 * Return: 0, -EAGAIN (it kept changing) or -errno.
 */
int target_list_text(struct target *t, int json, char **out)
{
	struct uklp_status st;
	char *buf;
	int ret = -EAGAIN;

	buf = malloc(UKLP_ABI_TEXT_MAX);
	if (!buf)
		return -ENOMEM;
	for (int i = 0; i < 1000; i++) {
		uint64_t seq2;

		ret = target_read_status(t, &st);
		if (ret)
			break;
		if (!(st.text_seq & 1)) {
			ret = proc_read(&t->p,
					json ? st.list_json_addr : st.list_addr,
					buf, UKLP_ABI_TEXT_MAX);
			if (ret)
				break;
			/* t->st_addr is known once the status was read. */
			ret = proc_read(
			    &t->p,
			    t->st_addr + offsetof(struct uklp_status, text_seq),
			    &seq2, sizeof(seq2));
			if (ret)
				break;
			if (seq2 == st.text_seq) {
				buf[UKLP_ABI_TEXT_MAX - 1] = '\0';
				*out = buf;
				return 0;
			}
		}
		ret = -EAGAIN;
		struct timespec ts = {0, 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	free(buf);
	return ret;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static int list_one(pid_t pid, int json)
{
	struct target t;
	char *text;
	int ret;

	ret = target_open(&t, pid, 0);
	if (ret)
		return ret;
	ret = target_runtime(&t, 0, NULL, "it has no patches");
	if (ret)
		goto out;
	ret = target_list_text(&t, json, &text);
	if (ret == -EAGAIN) {
		cmd_err("process %d: its patch list kept changing while read; "
			"try again",
			(int)pid);
		ret = CMD_EXIT_FAILED;
		goto out;
	}
	if (ret) {
		ret = cmd_sys_error(&t, ret, "reading the patch list", 0);
		goto out;
	}
	chomp(text);
	if (*text)
		printf("%s\n", text);
	free(text);
out:
	target_close(&t);
	return ret;
}

/* Does /proc/PID/maps name libuklp.so? -1: cannot be read. */
static int maps_has_runtime(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (!found && getline(&line, &cap, f) > 0)
		found = strstr(line, "libuklp.so") != NULL;
	free(line);
	fclose(f);
	return found;
}

/**
 * cmd_read_comm() - a process's command name (/proc/PID/comm)
 * @pid:	the process
 * @comm:	out: the name, "?" when it cannot be read
 * @len:	size of @comm
 */
void cmd_read_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	comm[0] = '\0';
	f = fopen(path, "re");
	if (f) {
		if (!fgets(comm, (int)len, f))
			comm[0] = '\0';
		fclose(f);
	}
	chomp(comm);
	if (!comm[0])
		snprintf(comm, len, "?");
}

static int list_all(int json)
{
	pid_t *pids = NULL, self = getpid();
	size_t n = 0, shown = 0, unreadable = 0;
	int ret;

	ret = proc_pids(&pids, &n);
	if (ret) {
		cmd_err("cannot read /proc: %s", strerror(-ret));
		return CMD_EXIT_FAILED;
	}

	if (json)
		printf("[");
	for (size_t i = 0; i < n; i++) {
		char comm[64];
		struct target t;
		char *text;
		int has;

		if (pids[i] == self)
			continue;
		has = maps_has_runtime(pids[i]);
		if (has < 0) {
			/* Gone meanwhile, or not ours to read. */
			if (errno == EACCES || errno == EPERM)
				unreadable++;
			continue;
		}
		if (!has)
			continue;
		if (target_open(&t, pids[i], 1)) {
			unreadable++;
			continue;
		}
		if (target_runtime(&t, 0, NULL, "") ||
		    target_list_text(&t, json, &text)) {
			cmd_note("process %d: its patch list cannot be read",
				 (int)pids[i]);
			target_close(&t);
			continue;
		}
		target_close(&t);
		cmd_read_comm(pids[i], comm, sizeof(comm));
		chomp(text);
		if (json) {
			printf("%s\n{\"pid\":%d,\"comm\":", shown ? "," : "",
			       (int)pids[i]);
			cmd_json_string(stdout, comm);
			printf(",\"tree\":%s}", *text ? text : "null");
		} else {
			printf("%s%d %s\n", shown ? "\n" : "", (int)pids[i],
			       comm);
			if (*text)
				printf("%s\n", text);
			else
				printf("(no patches)\n");
		}
		free(text);
		shown++;
	}
	if (json)
		printf("%s]\n", shown ? "\n" : "");
	free(pids);
	if (unreadable)
		cmd_err("%zu process%s could not be looked at (not "
			"permitted)%s",
			unreadable, unreadable == 1 ? "" : "es",
			geteuid() ? "; run as root to see every process" : "");
	return CMD_EXIT_OK;
}

/**
 * cmd_list() - uklp list [--json] [PID]
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "list"
 *
 * Return: an exit code.
 */
int cmd_list(int argc, char **argv)
{
	struct cmd_opts o;
	pid_t pid;
	int ret;

	ret = cmd_options(argc, argv, CMD_OPT_JSON, &o);
	if (!ret)
		ret = cmd_operands(argc, argv, &o, 0, 1, "[PID]");
	if (ret)
		return ret;
	if (o.first == argc)
		return list_all(o.json);
	ret = cmd_parse_pid(argv[0], argv[o.first], &pid);
	if (ret)
		return ret;
	return list_one(pid, o.json);
}
