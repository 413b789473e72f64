// SPDX-License-Identifier: MIT
/*
 * livepatch-sample.c - uklp's port of the kernel's live patching sample
 * (samples/livepatch/livepatch-sample.c).
 *
 * The kernel sample replaces cmdline_proc_show(), so that
 * "cat /proc/cmdline" says "this has been live patched". This one replaces
 * cmdline_show() of samples/cmdline-server, so that its answer changes the
 * same way, while it runs:
 *
 *	$ build/samples/ask /tmp/cmdline.sock
 *	BOOT_IMAGE=/vmlinuz-uklp root=/dev/sda1 ro quiet
 *	$ build/uklp load PID build/samples/livepatch-sample.so
 *	$ build/samples/ask /tmp/cmdline.sock
 *	this has been live patched
 *	$ build/uklp disable PID livepatch-sample
 *	$ build/samples/ask /tmp/cmdline.sock
 *	BOOT_IMAGE=/vmlinuz-uklp root=/dev/sda1 ro quiet
 *
 * The kernel module's init calls klp_enable_patch(); here loading the .so
 * enables the patch, whose name is the file's ("livepatch-sample"). The
 * kernel's rmmod after disabling has no equivalent: the runtime unloads a
 * disabled patch itself.
 */
#include <uklp/livepatch.h>

/* The replacement: same prototype as the server's cmdline_show(). */
static const char *livepatch_cmdline_show(void)
{
	return "this has been live patched";
}

static struct klp_func funcs[] = {{
				      .old_name = "cmdline_show",
				      .new_func = livepatch_cmdline_show,
				  },
				  {}};

static struct klp_object objs[] = {
    {
	/* name being NULL means the main executable (vmlinux) */
	.funcs = funcs,
    },
    {}};

static struct klp_patch patch = {
    .objs = objs,
};

KLP_PATCH(patch);
