// SPDX-License-Identifier: MIT
/*
 * test_klp_callbacks_busy.c - libtest_klp_callbacks_busy.so, the kernel
 * selftests' target module test_klp_callbacks_busy.
 *
 * The module's work item becomes a thread of the target ("busy start"):
 * it enters busymod_work_func() and stays there while busy_block is set, so
 * a patch replacing busymod_work_func() cannot complete its transition.
 */
#include <unistd.h>

#include "target.h"

#define pr_info(fmt, ...) tlog("test_klp_callbacks_busy: " fmt, ##__VA_ARGS__)

/* The module's block_transition parameter. */
int busy_block;

/* The module's busymod_work_started completion. */
int busy_entered;

/**
 * busy_set_block() - set or clear busy_block
 * @block: non-zero keeps the busy thread inside busymod_work_func()
 */
void busy_set_block(int block)
{
	__atomic_store_n(&busy_block, block, __ATOMIC_RELEASE);
}

/**
 * busymod_work_func() - the busy thread's body
 *
 * Logs its entry, signals busy_entered, sleeps in 10 ms steps while
 * busy_block is set, and logs its exit.
 */
PATCHABLE void busymod_work_func(void)
{
	pr_info("%s enter", __func__);
	__atomic_store_n(&busy_entered, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&busy_block, __ATOMIC_ACQUIRE))
		usleep(10000);
	pr_info("%s exit", __func__);
}

static __attribute__((constructor)) void test_klp_callbacks_busy_init(void)
{
	pr_info("%s", __func__);
}

static __attribute__((destructor)) void test_klp_callbacks_busy_exit(void)
{
	pr_info("%s", __func__);
}
