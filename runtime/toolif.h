/* SPDX-License-Identifier: MIT */
/*
 * toolif - the runtime's side of common/uklp_abi.h: the status block the
 * uklp tool reads and the entry point it calls. Prefix: toolif_.
 */
#ifndef UKLP_TOOLIF_H
#define UKLP_TOOLIF_H

#include <stdint.h>
#include <sys/types.h>

#include "uklp_abi.h"

extern struct uklp_status uklp_status;

/**
 * toolif_init() - fill the constant part of uklp_status; ready = 1
 */
void toolif_init(void);

/**
 * toolif_transition() - publish the transition state (klp_mutex held)
 * @gen:	generation
 * @target:	target state or KLP_UNDEFINED
 * @initial:	state of threads with a stale word
 * @switching:	whether threads may switch
 * @patch:	name of the patch in transition, or NULL
 * @ranges:	forbidden ranges (start, end, name)
 * @n:		how many
 */
struct stackcheck_range;
void toolif_transition(uint32_t gen, int target, int initial, int switching,
		       const char *patch, const struct stackcheck_range *ranges,
		       size_t n);

/**
 * toolif_texts() - regenerate the list texts (klp_mutex NOT held)
 */
void toolif_texts(void);

/**
 * toolif_thread_word() - the word of a thread the tool switched
 * @tid:	thread
 * @word:	out
 *
 * Return: 0, or -ENOENT when the tool did not record @tid (or its memory
 * cannot be read any more).
 */
int toolif_thread_word(pid_t tid, uint32_t *word);

/**
 * control_load() - uklp_ctl_load() that also reports on a dry run
 * (control.c; the tool's check op prints the report)
 * @path:	path of the patch shared object
 * @flags:	UKLP_LOAD_*
 * @report:	if not NULL, with UKLP_LOAD_CHECK: where the symbols of each
 *		object of the patch came from, one line each (set on success)
 * @report_len:	size of @report
 *
 * Return: as uklp_ctl_load().
 */
int control_load(const char *path, int flags, char *report, size_t report_len);

#endif
