/* SPDX-License-Identifier: MIT */
/*
 * uklp_abi.h - what the uklp tool reads and writes in a target process's
 * memory (process_vm_readv/writev, /proc/PID/mem), shared by the runtime
 * and the tool. Prefix: uklp_abi_ / UKLP_ABI_.
 *
 * The runtime exports one object, `uklp_status` (struct uklp_status). The
 * tool finds it from libuklp.so's symbol table and the library's load
 * address in /proc/PID/maps, checks magic and version, and from then on:
 *  - reads the transition state (gen, target, forbidden ranges) under
 *    @seq (odd while the runtime changes them: read again);
 *  - reads the list and log texts without stopping anything;
 *  - after switching a thread through ptrace, writes its word into the
 *    thread's TLS (fs_base + @tls_word_off) and records the thread in the
 *    tool thread table so the runtime's completion check can see it;
 *  - makes one thread call uklp_tool_call(op, arg, token) and waits until
 *    @call_token equals its token: @call_rc and @call_msg are the answer.
 */
#ifndef UKLP_ABI_H
#define UKLP_ABI_H

#include <stdint.h>

#define UKLP_ABI_STATUS_MAGIC	0x7473656bu /* "kest" */
#define UKLP_ABI_STATUS_VERSION 2	    /* of struct uklp_status */
#define UKLP_ABI_STATUS_SYMBOL	"uklp_status"
#define UKLP_ABI_CALL_SYMBOL	"uklp_tool_call"
#define UKLP_ABI_TOOL_THREADS	8192
#define UKLP_ABI_TEXT_MAX	(128 * 1024)
#define UKLP_ABI_MSG_MAX	512
#define UKLP_ABI_NAME_MAX	256

/* Operations of uklp_tool_call(). */
enum uklp_abi_op {
	UKLP_OP_NOP = 0,  /* only answers: the runtime is alive */
	UKLP_OP_LOAD,	  /* arg: patch path */
	UKLP_OP_CHECK,	  /* arg: patch path; everything but the write */
	UKLP_OP_DISABLE,  /* arg: patch name */
	UKLP_OP_ENABLE,	  /* arg: patch name (reverse an unpatching) */
	UKLP_OP_FORCE,	  /* arg: patch name */
	UKLP_OP_COMPLETE, /* try to complete the transition */
};

/* A thread the tool switched: where its word lives. */
struct uklp_abi_thread {
	int32_t tid; /* 0: free entry */
	uint32_t pad;
	uint64_t word_addr;
};

/* A forbidden range of the transition in progress. */
struct uklp_abi_range {
	uint64_t start, end;
	char name[64];
};

struct uklp_status {
	uint32_t magic;	  /* UKLP_ABI_STATUS_MAGIC once initialized */
	uint32_t version; /* UKLP_ABI_STATUS_VERSION */
	uint32_t ready;	  /* 1: the runtime's constructor finished */
	int32_t pid;
	int64_t tls_word_off; /* a thread's word is at fs_base + this */
	/* the count of SRCU read sections a thread is inside (a hint) */
	int64_t tls_readers_off;

	/* transition state, stable while @seq is even and unchanged */
	volatile uint64_t seq;
	volatile uint32_t gen;	    /* current transition generation */
	volatile int32_t target;    /* KLP_PATCHED/UNPATCHED, -1: none */
	volatile int32_t initial;   /* state of a thread whose word is stale */
	volatile int32_t switching; /* threads may switch now */
	volatile int32_t blocking_tid; /* last thread seen blocking */
	/* the runtime's transition worker (0: not started): it completes a
	 * transition once every thread has switched, polling every 20 ms;
	 * the tool raises its priority while it waits for that */
	volatile int32_t worker_tid;
	uint32_t pad0;
	char transition_patch[UKLP_ABI_NAME_MAX];
	volatile uint64_t nranges;
	uint64_t ranges_addr; /* struct uklp_abi_range[nranges] */

	/* texts, regenerated under @text_seq (odd while written) */
	volatile uint64_t text_seq;
	uint64_t list_addr;	 /* char[UKLP_ABI_TEXT_MAX], NUL-terminated */
	uint64_t list_json_addr; /* char[UKLP_ABI_TEXT_MAX] */
	uint64_t log_ring_addr;	 /* struct log_ring (runtime/log.h) */

	/* threads the tool switched (the runtime reads, the tool writes):
	 * struct uklp_abi_thread[UKLP_ABI_TOOL_THREADS] */
	uint64_t tool_threads_addr;

	/* threads that registered themselves (switched at least once by
	 * themselves): the tool reads their words without stopping them;
	 * struct uklp_abi_thread[UKLP_ABI_TOOL_THREADS] */
	uint64_t registry_addr;

	/* the answer of the last uklp_tool_call(); @call_msg is the reason
	 * of a refusal or, after a successful UKLP_OP_CHECK, where the
	 * symbols of the patch's objects came from ("symbols: OBJ: WHERE"
	 * lines) */
	volatile uint64_t call_token;
	volatile int64_t call_rc;
	char call_msg[UKLP_ABI_MSG_MAX];
};

#endif
