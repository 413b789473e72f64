/* SPDX-License-Identifier: MIT */
/*
 * cmd - the commands of the `uklp` command line and what they share:
 * exit codes, messages, opening a target, calling its runtime, waiting
 * for a transition. Prefix: cmd_ / target_.
 */
#ifndef UKLP_TOOL_CMD_H
#define UKLP_TOOL_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "proc.h"
#include "uklp_abi.h"

#define UKLP_TOOL_VERSION "0.1.0"

/* Exit codes (documented in doc/uklp.1 and `uklp --help`). */
enum cmd_exit {
	CMD_EXIT_OK = 0,	 /* success */
	CMD_EXIT_FAILED = 1,	 /* refused or failed, target unchanged */
	CMD_EXIT_USAGE = 2,	 /* bad command line */
	CMD_EXIT_NOPROC = 3,	 /* no such process / not permitted */
	CMD_EXIT_BADPATCH = 4,	 /* not a patch file / bad patch file */
	CMD_EXIT_INPROGRESS = 5, /* transition still in progress */
	CMD_EXIT_NORUNTIME = 6,	 /* runtime could not be injected */
};

/* Default --timeout of the commands that wait for a transition. */
#define CMD_WAIT_TIMEOUT_MS 30000
/* How long a call into the runtime (safe point + answer) may take. */
#define CMD_CALL_TIMEOUT_MS 30000
/* How long injecting the runtime may take. */
#define CMD_INJECT_TIMEOUT_MS 30000

/* -v/--verbose was given. */
extern int cmd_verbose;

/* The runtime's answer (-errno) of the last call, or -ETIMEDOUT for a wait
 * that timed out; printed as "uklp-rc: N" on exit when UKLP_TOOL_RC is set
 * (for test scripts comparing errnos). */
extern long cmd_last_rc;

/**
 * cmd_err() - print "uklp: <message>" on standard error
 * @fmt:	printf format (no trailing newline)
 */
void cmd_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * cmd_info() - like cmd_err(), for news that is not an error (not kept by
 * cmd_err_first())
 * @fmt:	printf format (no trailing newline)
 */
void cmd_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * cmd_err_reset() - forget the messages cmd_err() printed so far
 */
void cmd_err_reset(void);

/**
 * cmd_err_first() - the first message cmd_err() printed since the last
 * cmd_err_reset()
 *
 * Return: the message (without "uklp: "), "" when there was none.
 */
const char *cmd_err_first(void);

/**
 * cmd_note() - like cmd_err(), only with -v/--verbose
 * @fmt:	printf format (no trailing newline)
 */
void cmd_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * cmd_usage_error() - report a bad command line of a command
 * @cmd:	the command's name
 * @fmt:	printf format (no trailing newline)
 *
 * Return: CMD_EXIT_USAGE.
 */
int cmd_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * cmd_parse_pid() - a PID argument (a positive decimal number)
 * @cmd:	the command's name, for the message
 * @s:		the argument
 * @pid:	out
 *
 * Return: 0, or CMD_EXIT_USAGE with a message printed.
 */
int cmd_parse_pid(const char *cmd, const char *s, pid_t *pid);

/**
 * cmd_parse_timeout() - a --timeout argument in seconds (0: no limit)
 * @cmd:	the command's name, for the message
 * @s:		the argument ("30", "2.5")
 * @ms:		out: milliseconds, -1 for no limit
 *
 * Return: 0, or CMD_EXIT_USAGE with a message printed.
 */
int cmd_parse_timeout(const char *cmd, const char *s, int *ms);

/* Options a command accepts (cmd_options()). */
#define CMD_OPT_TIMEOUT 0x1  /* --timeout S */
#define CMD_OPT_NOWAIT	0x2  /* --no-wait */
#define CMD_OPT_JSON	0x4  /* --json */
#define CMD_OPT_LEVEL	0x8  /* -l/--level LEVEL */
#define CMD_OPT_ALL	0x10 /* --all */

/* The options given. */
struct cmd_opts {
	int timeout_ms;	   /* CMD_WAIT_TIMEOUT_MS, or -1: no limit */
	int nowait;	   /* --no-wait */
	int json;	   /* --json */
	const char *level; /* -l LEVEL or NULL */
	int all;	   /* --all */
	int first;	   /* index of the first operand in argv */
};

/**
 * cmd_options() - parse a command's options (-v is always accepted)
 * @argc:	argument count (argv[0] is the command's name)
 * @argv:	arguments; options and operands may be mixed, "--" ends
 *		the options
 * @allowed:	CMD_OPT_* the command accepts
 * @o:		out
 *
 * Return: 0, or CMD_EXIT_USAGE with a message printed.
 */
int cmd_options(int argc, char **argv, int allowed, struct cmd_opts *o);

/**
 * cmd_operands() - check the number of operands
 * @argc:	argument count
 * @argv:	arguments (as permuted by cmd_options())
 * @o:		the parsed options
 * @min:	operands required
 * @max:	operands accepted
 * @names:	their names, for the message ("PID PATCH.so")
 *
 * Return: 0, or CMD_EXIT_USAGE with a message printed.
 */
int cmd_operands(int argc, char **argv, const struct cmd_opts *o, int min,
		 int max, const char *names);

/**
 * cmd_pid_args() - the arguments of a command whose only operand is a PID
 * @argc:	argument count
 * @argv:	arguments, argv[0] = the command
 * @allowed:	CMD_OPT_* the command accepts
 * @o:		out: the options
 * @pid:	out: the PID
 *
 * cmd_options(), cmd_operands() for exactly one "PID", cmd_parse_pid().
 *
 * Return: 0, or CMD_EXIT_USAGE with a message printed.
 */
int cmd_pid_args(int argc, char **argv, int allowed, struct cmd_opts *o,
		 pid_t *pid);

/**
 * cmd_json_string() - print @s as a JSON string (quoted, escaped)
 * @f:	output
 * @s:	the string
 */
void cmd_json_string(FILE *f, const char *s);

/**
 * cmd_patch_name() - a patch's name from its name or file path
 * @arg:	"fix", "fix.so" or "/some/dir/fix.so"
 * @out:	"fix"
 * @len:	size of @out
 */
void cmd_patch_name(const char *arg, char *out, size_t len);

/* A target process the tool works on. */
struct target {
	pid_t pid;
	struct proc p;
	int opened;
	uintptr_t st_addr; /* uklp_status in the target, 0 if unknown */
	char answer[UKLP_ABI_MSG_MAX]; /* message of the last call that
					* succeeded (a check's report) */
};

/**
 * target_open() - look at process @pid
 * @t:		filled; release with target_close()
 * @pid:	the process
 * @quiet:	print nothing on failure
 *
 * Return: 0, or CMD_EXIT_NOPROC / CMD_EXIT_FAILED with a message printed.
 */
int target_open(struct target *t, pid_t pid, int quiet);

/**
 * target_close() - release what target_open() took
 * @t:	the target
 */
void target_close(struct target *t);

/**
 * target_has_runtime() - is libuklp.so mapped in the target
 * @t:	the target
 *
 * Return: 1 or 0.
 */
int target_has_runtime(struct target *t);

/**
 * target_runtime() - make sure the target's runtime is there and ready
 * @t:		the target
 * @inject:	inject libuklp.so when it is not loaded
 * @injected:	out (optional): 1 when it was injected now
 * @why:	what the runtime is needed for, for the "no runtime" message
 *		("no patch to disable"), when @inject is 0
 *
 * Return: 0, or an exit code with a message printed: CMD_EXIT_FAILED (no
 * runtime and @inject is 0, or a runtime of another ABI),
 * CMD_EXIT_NORUNTIME (injection failed), CMD_EXIT_NOPROC.
 */
int target_runtime(struct target *t, int inject, int *injected,
		   const char *why);

/**
 * target_read_status() - read the target's uklp_status
 * @t:	the target (its runtime is loaded)
 * @st:	out
 *
 * Return: 0 or -errno.
 */
int target_read_status(struct target *t, struct uklp_status *st);

/**
 * target_call() - make the target's runtime run one operation
 * @t:		the target (its runtime is loaded)
 * @op:		enum uklp_abi_op
 * @arg:	its argument (patch path or name)
 * @what:	what is asked, for messages ("load of patch 'x'")
 *
 * On success t->answer holds the runtime's message (a check's report,
 * else usually "").
 *
 * Return: 0 on success, or an exit code with a message printed (the
 * runtime's refusal: CMD_EXIT_BADPATCH for -ENOEXEC, else CMD_EXIT_FAILED;
 * no thread at a safe point, no answer, gone process, no permission).
 */
int target_call(struct target *t, int op, const char *arg, const char *what);

/**
 * target_wait() - drive the transition in progress to its end
 * @t:		the target
 * @timeout_ms:	negative: no limit
 * @patch:	name of the patch in transition, for messages
 *
 * Return: 0 when no transition is left, or an exit code with a message
 * printed: CMD_EXIT_INPROGRESS (timeout: who blocks, how to go on),
 * CMD_EXIT_FAILED (the process exited during the wait).
 */
int target_wait(struct target *t, int timeout_ms, const char *patch);

/**
 * cmd_sys_error() - report a failure of the tool's own machinery
 * @t:		the target
 * @err:	negative errno from proc_*, inject_* or switch_*
 * @what:	what failed ("loading the runtime")
 * @started:	1 when the operation had begun (a vanished process then
 *		"exited during" it)
 *
 * Return: the exit code that goes with @err.
 */
int cmd_sys_error(struct target *t, int err, const char *what, int started);

/**
 * target_log_head() - where the target's message ring is now
 * @t:		the target (its runtime is loaded)
 * @head:	out: bytes ever written to the ring
 *
 * Return: 0 or -errno.
 */
int target_log_head(struct target *t, uint64_t *head);

/**
 * target_log_since() - print the runtime's messages written after @head
 * @t:		the target
 * @head:	from target_log_head()
 * @max_level:	only messages of this level or more severe (UKLP_LOG_*)
 *
 * Each line goes to standard error as "uklp:   <message>". Nothing is
 * printed when the ring cannot be read.
 */
void target_log_since(struct target *t, uint64_t head, int max_level);

/**
 * target_list_text() - copy the runtime's patch list text (`uklp list`)
 * @t:		the target (its runtime is ready)
 * @json:	the JSON text instead of the tree
 * @out:	out: malloc'ed, NUL-terminated
 *
 * Return: 0, -EAGAIN (it kept changing while read) or -errno.
 */
int target_list_text(struct target *t, int json, char **out);

/**
 * cmd_read_comm() - a process's command name (/proc/PID/comm)
 * @pid:	the process
 * @comm:	out: the name, "?" when it cannot be read
 * @len:	size of @comm
 */
void cmd_read_comm(pid_t pid, char *comm, size_t len);

/**
 * cmd_load_into() - what `uklp load PID PATCH.so` does to an opened target:
 * inject the runtime if needed, load the patch, drive its transition (or
 * not, with @nowait)
 * @t:		the target (target_open())
 * @abs:	absolute path of the patch file, checked
 * @name:	the patch's name
 * @timeout_ms:	for the transition; negative: no limit
 * @nowait:	return once the transition has started
 *
 * Messages go to standard error; nothing is printed on success.
 *
 * Return: 0 or an exit code of enum cmd_exit, with a message printed.
 */
int cmd_load_into(struct target *t, const char *abs, const char *name,
		  int timeout_ms, int nowait);

/**
 * cmd_load_all() - `uklp load --all PATCH.so`: cmd_load_into() every
 * process that has the patch's objects loaded, one after another
 * @abs:	absolute path of the patch file, checked
 * @name:	the patch's name
 * @desc_addr:	link-time address of its uklp_patch_desc
 * @o:		the options (--timeout, --no-wait)
 *
 * Return: an exit code (see doc/uklp.1).
 */
int cmd_load_all(const char *abs, const char *name, uint64_t desc_addr,
		 const struct cmd_opts *o);

/* The commands: argv[0] is the command's name; they return an exit code. */
int cmd_load(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_inject(int argc, char **argv);
int cmd_disable(int argc, char **argv);
int cmd_enable(int argc, char **argv);
int cmd_force(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_log(int argc, char **argv);

#endif /* UKLP_TOOL_CMD_H */
