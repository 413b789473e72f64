/* SPDX-License-Identifier: MIT */
/*
 * <uklp/control.h> - driving the runtime from inside the process.
 *
 * These are the entry points the `uklp` tool calls from outside (through a
 * hijacked thread); a program linked with libuklp.so may call them itself.
 * Every function returns 0 or a negative errno and, on failure, leaves a
 * one-line explanation in uklp_ctl_last_error() (per thread) that says what
 * failed, why, and what was left unchanged. The process is never changed by
 * a refused operation.
 */
#ifndef UKLP_CONTROL_H
#define UKLP_CONTROL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of uklp_ctl_load(). */
#define UKLP_LOAD_CHECK                                                        \
	0x1 /* dry run: resolve and check everything, write nothing */

/**
 * uklp_ctl_load() - load a patch .so and enable it
 * @path:	path of the patch shared object
 * @flags:	UKLP_LOAD_*
 *
 * The kernel's klp_enable_patch(): checks, pre_patch callbacks, patching,
 * start of the transition and one attempt to complete it. The transition
 * may still be in progress on return; see uklp_ctl_wait().
 *
 * Return: 0, or -errno (-ENOEXEC not a patch, -ENOENT missing symbol or
 * file, -EINVAL ambiguous symbol or incompatible state, -EEXIST already
 * loaded, -EBUSY another transition in progress or site owned by another
 * IPMODIFY user, -EOPNOTSUPP unpatchable function, callbacks' own errors).
 */
int uklp_ctl_load(const char *path, int flags);

/**
 * uklp_ctl_disable() - start unpatching (echo 0 > enabled)
 * @name:	patch name
 *
 * During the patch's own patching transition this reverses it.
 *
 * Return: 0 or -errno (-EINVAL unknown or not enabled, -EBUSY another
 * patch's transition in progress).
 */
int uklp_ctl_disable(const char *name);

/**
 * uklp_ctl_enable() - re-enable during an unpatching transition (echo 1 >
 * enabled)
 * @name:	patch name
 *
 * Return: 0 or -errno (-EINVAL when the patch is not unpatching).
 */
int uklp_ctl_enable(const char *name);

/**
 * uklp_ctl_force() - force the transition of @name to finish (echo 1 > force)
 * @name:	patch name of the patch in transition
 *
 * Every thread is switched to the target state; the patch is marked forced
 * and its .so is never unloaded.
 *
 * Return: 0 or -errno (-EINVAL when @name is not in transition).
 */
int uklp_ctl_force(const char *name);

/**
 * uklp_ctl_try_complete() - try once to complete the transition in progress
 *
 * Return: 0 when no transition is left in progress, -EAGAIN otherwise.
 */
int uklp_ctl_try_complete(void);

/**
 * uklp_ctl_wait() - wait for the transition in progress to complete
 * @timeout_ms: how long at most; negative waits forever
 *
 * Return: 0 when none is in progress, -ETIMEDOUT otherwise.
 */
int uklp_ctl_wait(int timeout_ms);

/**
 * uklp_ctl_list() - the /sys/kernel/livepatch tree of this process
 * @buf:	output buffer (NUL-terminated, truncated to @len)
 * @len:	its size
 * @json:	non-zero for JSON, zero for the indented text tree
 *
 * Return: the length the full text needs (without NUL), or -errno.
 */
int uklp_ctl_list(char *buf, size_t len, int json);

/**
 * uklp_ctl_log() - copy the message ring
 * @buf:	output buffer (NUL-terminated, truncated to @len)
 * @len:	its size
 *
 * Return: the length the full text needs (without NUL).
 */
int uklp_ctl_log(char *buf, size_t len);

/**
 * struct uklp_stats - counters for leak checks, benchmarks and the tool
 * @patches:	patches known (enabled, or in transition)
 * @sites:	function entries the hook layer knows (each keeps its
 * trampoline)
 * @armed:	sites currently redirected
 * @trampolines: trampolines allocated and not recycled
 * @transition:	1 while a transition is in progress
 * @moved:	threads moved out of a prologue's displaced instructions
 *		while its site was armed, since the process started
 */
struct uklp_stats {
	long patches;
	long sites;
	long armed;
	long trampolines;
	long transition;
	long moved;
};

/**
 * uklp_ctl_stats() - read the runtime's counters
 * @st:	filled
 *
 * Return: 0.
 */
int uklp_ctl_stats(struct uklp_stats *st);

/**
 * uklp_ctl_last_error() - the calling thread's last error message
 *
 * Return: a string, "" when the last call succeeded.
 */
const char *uklp_ctl_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* UKLP_CONTROL_H */
