// SPDX-License-Identifier: MIT
/*
 * toolif.c - the status block and the entry point of the uklp tool
 * (protocol in common/uklp_abi.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <uklp/control.h>
#include <uklp/livepatch.h>

#include "log.h"
#include "stackcheck.h"
#include "threads.h"
#include "toolif.h"
#include "uklp_api.h"

UKLP_API struct uklp_status uklp_status;

static char list_text[UKLP_ABI_TEXT_MAX];
static char list_json[UKLP_ABI_TEXT_MAX];
static struct uklp_abi_thread tool_threads[UKLP_ABI_TOOL_THREADS];
static struct uklp_abi_thread registry[UKLP_ABI_TOOL_THREADS];

/* Entries of registry[] ever used: the rest is zero (the lock holder's
 * scan stays short; every thread that registers waits for it). */
static size_t registry_used;

/* Mirror of the runtime's thread registry for the tool (called under the
 * registry lock): address first, then tid (the tool trusts an entry once it
 * sees its tid); an exit clears the tid first. */
static void registry_hook(pid_t tid, uint32_t *word)
{
	size_t i, free_i = UKLP_ABI_TOOL_THREADS;

	for (i = 0; i < registry_used; i++) {
		if (registry[i].tid == tid)
			break;
		if (!registry[i].tid && free_i == UKLP_ABI_TOOL_THREADS)
			free_i = i;
	}
	if (!word) {
		if (i < registry_used)
			__atomic_store_n(&registry[i].tid, 0, __ATOMIC_RELEASE);
		return;
	}
	if (i == registry_used) {
		i = free_i;
		if (i == UKLP_ABI_TOOL_THREADS &&
		    registry_used < UKLP_ABI_TOOL_THREADS)
			i = registry_used++;
	}
	if (i == UKLP_ABI_TOOL_THREADS)
		return; /* full: the tool stops that thread to look */
	__atomic_store_n(&registry[i].tid, 0, __ATOMIC_RELEASE);
	registry[i].word_addr = (uint64_t)(uintptr_t)word;
	__atomic_store_n(&registry[i].tid, tid, __ATOMIC_RELEASE);
}
static struct uklp_abi_range *pub_ranges;
static size_t pub_cap;

void toolif_init(void)
{
	struct uklp_status *st = &uklp_status;

	st->version = UKLP_ABI_STATUS_VERSION;
	st->pid = getpid();
	st->tls_word_off = threads_tls_word_off;
	st->tls_readers_off = threads_tls_readers_off;
	st->target = KLP_UNDEFINED;
	st->initial = KLP_UNDEFINED;
	st->list_addr = (uint64_t)(uintptr_t)list_text;
	st->list_json_addr = (uint64_t)(uintptr_t)list_json;
	st->log_ring_addr = (uint64_t)(uintptr_t)&uklp_log_ring;
	st->tool_threads_addr = (uint64_t)(uintptr_t)tool_threads;
	threads_unregistered_word = toolif_thread_word;
	threads_registry_hook = registry_hook;
	st->registry_addr = (uint64_t)(uintptr_t)registry;
	toolif_texts();
	/* Magic and ready last: a reader that sees them sees the rest
	 * (release; pairs with the tool reading magic first). */
	__atomic_store_n(&st->magic, UKLP_ABI_STATUS_MAGIC, __ATOMIC_RELEASE);
	__atomic_store_n(&st->ready, 1, __ATOMIC_RELEASE);
}

void toolif_transition(uint32_t gen, int target, int initial, int switching,
		       const char *patch, const struct stackcheck_range *ranges,
		       size_t n)
{
	struct uklp_status *st = &uklp_status;

	if (n > pub_cap) {
		size_t cap = n * 2;
		/* Grow only; the old array is kept (a reader may hold it):
		 * the size is bounded by the largest patch. */
		struct uklp_abi_range *nr = calloc(cap, sizeof(*nr));

		if (!nr) {
			/* Never publish a partial list: the tool would check
			 * stacks against it. Switching stays off for it. */
			n = pub_cap;
			switching = 0;
		} else {
			pub_ranges = nr;
			pub_cap = cap;
		}
	}
	/* Odd seq: a writer is at work (pairs with the tool's re-read). */
	__atomic_add_fetch(&st->seq, 1, __ATOMIC_SEQ_CST);
	st->gen = gen;
	st->target = target;
	st->initial = initial;
	st->switching = switching;
	snprintf(st->transition_patch, sizeof(st->transition_patch), "%s",
		 patch ? patch : "");
	for (size_t i = 0; i < n; i++) {
		pub_ranges[i].start = ranges[i].start;
		pub_ranges[i].end = ranges[i].end;
		snprintf(pub_ranges[i].name, sizeof(pub_ranges[i].name), "%s",
			 ranges[i].name ? ranges[i].name : "");
	}
	st->ranges_addr = (uint64_t)(uintptr_t)pub_ranges;
	st->nranges = n;
	__atomic_add_fetch(&st->seq, 1, __ATOMIC_SEQ_CST);
}

void toolif_texts(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char tmp[UKLP_ABI_TEXT_MAX], tmpj[UKLP_ABI_TEXT_MAX];

	pthread_mutex_lock(&lock);
	uklp_ctl_list(tmp, sizeof(tmp), 0);
	uklp_ctl_list(tmpj, sizeof(tmpj), 1);
	__atomic_add_fetch(&uklp_status.text_seq, 1, __ATOMIC_SEQ_CST);
	memcpy(list_text, tmp, sizeof(list_text));
	memcpy(list_json, tmpj, sizeof(list_json));
	__atomic_add_fetch(&uklp_status.text_seq, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&lock);
}

int toolif_thread_word(pid_t tid, uint32_t *word)
{
	for (size_t i = 0; i < UKLP_ABI_TOOL_THREADS; i++) {
		struct iovec l, r;

		if (__atomic_load_n(&tool_threads[i].tid, __ATOMIC_ACQUIRE) !=
		    tid)
			continue;
		/* The thread may have exited and its stack be gone: read
		 * without risking a fault. */
		l.iov_base = word;
		l.iov_len = sizeof(*word);
		r.iov_base = (void *)(uintptr_t)tool_threads[i].word_addr;
		r.iov_len = sizeof(*word);
		if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) !=
		    (ssize_t)sizeof(*word))
			return -ENOENT;
		return 0;
	}
	return -ENOENT;
}

/**
 * uklp_tool_call() - what the uklp tool makes a hijacked thread call
 * @op:		enum uklp_abi_op
 * @arg:	its argument (path or patch name), in the caller's memory
 * @token:	the caller's token, echoed in uklp_status.call_token
 *
 * The answer (rc and message) is left in uklp_status for the tool.
 */
UKLP_API void uklp_tool_call(long op, const char *arg, unsigned long token)
{
	struct uklp_status *st = &uklp_status;
	char report[UKLP_ABI_MSG_MAX] = "";
	long rc;

	switch (op) {
	case UKLP_OP_NOP:
		rc = 0;
		break;
	case UKLP_OP_LOAD:
		rc = uklp_ctl_load(arg, 0);
		break;
	case UKLP_OP_CHECK:
		rc = control_load(arg, UKLP_LOAD_CHECK, report, sizeof(report));
		break;
	case UKLP_OP_DISABLE:
		rc = uklp_ctl_disable(arg);
		break;
	case UKLP_OP_ENABLE:
		rc = uklp_ctl_enable(arg);
		break;
	case UKLP_OP_FORCE:
		rc = uklp_ctl_force(arg);
		break;
	case UKLP_OP_COMPLETE:
		rc = uklp_ctl_try_complete();
		break;
	default:
		rc = -EINVAL;
		break;
	}
	/* A refusal's reason; a successful check's report. */
	snprintf(st->call_msg, sizeof(st->call_msg), "%s",
		 rc ? uklp_ctl_last_error() : report);
	st->call_rc = rc;
	/* The token last: the tool reads rc and msg once it sees its token
	 * (release; pairs with the tool's read of call_token first). */
	__atomic_store_n(&st->call_token, token, __ATOMIC_RELEASE);
}
