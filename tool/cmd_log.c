// SPDX-License-Identifier: MIT
/*
 * cmd_log.c - `uklp log`: the runtime's message ring (its dmesg), copied
 * from the target's memory with process_vm_readv (struct log_ring,
 * runtime/log.h), nothing stopped. Records are "<level digit><text>\0";
 * @head counts every byte ever written, the live text is the last
 * min(head, size) bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cmd.h"
#include "log.h"

/* The largest ring this tool accepts (the runtime's is LOG_RING_SIZE). */
#define LOG_MAX_RING (64u << 20)

static const char *const level_names[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static int parse_level(const char *s, int *level)
{
	if (s[0] >= '0' && s[0] <= '7' && !s[1]) {
		*level = s[0] - '0';
		return 0;
	}
	for (int i = 0; i < 8; i++) {
		if (!strcasecmp(s, level_names[i])) {
			*level = i;
			return 0;
		}
	}
	if (!strcasecmp(s, "warn") || !strcasecmp(s, "error")) {
		*level = !strcasecmp(s, "warn") ? 4 : 3;
		return 0;
	}
	return -1;
}

/*
 * Copy the live part of the ring, oldest byte first, into @copy (size
 * @hdr->size); retried while a writer is at work (odd or changed seq).
 */
static int read_ring(struct target *t, uintptr_t addr, struct log_ring *hdr,
		     char **copy, size_t *avail)
{
	const size_t hlen = offsetof(struct log_ring, data);
	char *data = NULL;
	int ret = -EAGAIN;

	for (int i = 0; i < 1000; i++) {
		struct log_ring h2;

		ret = proc_read(&t->p, addr, hdr, hlen);
		if (ret)
			break;
		if (hdr->magic != LOG_RING_MAGIC || !hdr->size ||
		    hdr->size > LOG_MAX_RING) {
			ret = -EPROTO;
			break;
		}
		if (!data) {
			data = malloc(hdr->size);
			if (!data)
				return -ENOMEM;
		}
		if (!(hdr->seq & 1)) {
			ret = proc_read(&t->p, addr + hlen, data, hdr->size);
			if (ret)
				break;
			ret = proc_read(&t->p, addr, &h2, hlen);
			if (ret)
				break;
			if (h2.seq == hdr->seq && h2.head == hdr->head &&
			    h2.size == hdr->size)
				goto stable;
		}
		ret = -EAGAIN;
		struct timespec ts = {0, 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	free(data);
	return ret;
stable:
	*avail = hdr->head < hdr->size ? hdr->head : hdr->size;
	*copy = malloc(*avail + 1);
	if (!*copy) {
		free(data);
		return -ENOMEM;
	}
	for (size_t i = 0; i < *avail; i++)
		(*copy)[i] = data[(hdr->head - *avail + i) % hdr->size];
	(*copy)[*avail] = '\0';
	free(data);
	return 0;
}

static void print_records(const struct log_ring *hdr, const char *copy,
			  size_t avail, int max_level, int json)
{
	size_t i = 0;
	int n = 0;

	/* When the ring wrapped, the first record is partial: skip it. */
	if (hdr->head > hdr->size) {
		while (i < avail && copy[i])
			i++;
		i++;
	}
	if (json)
		printf("[");
	while (i < avail) {
		size_t l = strnlen(copy + i, avail - i);
		int lvl = copy[i] - '0';

		if (l >= 1 && lvl >= 0 && lvl <= 7 && lvl <= max_level) {
			if (json) {
				printf("%s\n{\"level\":%d,\"text\":",
				       n ? "," : "", lvl);
				cmd_json_string(stdout, copy + i + 1);
				printf("}");
			} else {
				printf("%s\n", copy + i + 1);
			}
			n++;
		}
		i += l + 1;
	}
	if (json)
		printf("%s]\n", n ? "\n" : "");
}

int target_log_head(struct target *t, uint64_t *head)
{
	struct uklp_status st;
	struct log_ring hdr;
	int ret;

	ret = target_read_status(t, &st);
	if (!ret)
		ret = proc_read(&t->p, st.log_ring_addr, &hdr,
				offsetof(struct log_ring, data));
	if (!ret && hdr.magic != LOG_RING_MAGIC)
		ret = -EPROTO;
	if (!ret)
		*head = hdr.head;
	return ret;
}

void target_log_since(struct target *t, uint64_t head, int max_level)
{
	struct uklp_status st;
	struct log_ring hdr;
	size_t avail, i;
	char *copy;

	if (target_read_status(t, &st) ||
	    read_ring(t, st.log_ring_addr, &hdr, &copy, &avail))
		return;
	if (head >= hdr.head - avail) {
		i = head - (hdr.head - avail);
	} else {
		/* Overwritten meanwhile: start at the first whole record. */
		for (i = 0; i < avail && copy[i]; i++)
			;
		i++;
	}
	while (i < avail) {
		size_t l = strnlen(copy + i, avail - i);
		int lvl = copy[i] - '0';

		if (l >= 1 && lvl >= 0 && lvl <= max_level)
			cmd_err("  %s", copy + i + 1);
		i += l + 1;
	}
	free(copy);
}

/**
 * cmd_log() - uklp log [-l LEVEL] [--json] PID
 * @argc:	argument count
 * @argv:	arguments, argv[0] = "log"
 *
 * Return: an exit code.
 */
int cmd_log(int argc, char **argv)
{
	struct uklp_status st;
	struct log_ring hdr;
	struct cmd_opts o;
	struct target t;
	int ret, level = 7;
	size_t avail;
	char *copy;
	pid_t pid;

	ret = cmd_pid_args(argc, argv, CMD_OPT_JSON | CMD_OPT_LEVEL, &o, &pid);
	if (ret)
		return ret;
	if (o.level && parse_level(o.level, &level))
		return cmd_usage_error(argv[0],
				       "unknown level '%s' (err, warning, "
				       "notice, info, debug or 0..7)",
				       o.level);

	ret = target_open(&t, pid, 0);
	if (ret)
		return ret;
	ret = target_runtime(&t, 0, NULL, "it has no log");
	if (ret)
		goto out;
	ret = target_read_status(&t, &st);
	if (!ret)
		ret = read_ring(&t, st.log_ring_addr, &hdr, &copy, &avail);
	if (ret == -EPROTO) {
		cmd_err("process %d: the runtime's log ring at %#lx is not one "
			"this uklp can read",
			(int)pid, (unsigned long)st.log_ring_addr);
		ret = CMD_EXIT_FAILED;
		goto out;
	}
	if (ret == -EAGAIN) {
		cmd_err("process %d: its log kept changing while read; try "
			"again",
			(int)pid);
		ret = CMD_EXIT_FAILED;
		goto out;
	}
	if (ret) {
		ret = cmd_sys_error(&t, ret, "reading the runtime's log", 0);
		goto out;
	}
	print_records(&hdr, copy, avail, level, o.json);
	free(copy);
out:
	target_close(&t);
	return ret;
}
