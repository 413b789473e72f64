// SPDX-License-Identifier: MIT
/*
 * main.c - the `uklp` command line: global options, help, dispatch to the
 * commands (tool/cmd_*.c), and the small helpers every command uses.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uklp/livepatch.h>

#include "cmd.h"
#include "prio.h"

int cmd_verbose;
long cmd_last_rc;

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *help;
	const char *synopsis2; /* a second form, or NULL */
};

static const struct command commands[] = {
    {"load", cmd_load, "load [--timeout S] [--no-wait] PID PATCH.so",
     "Check PATCH.so (an ELF shared object exporting uklp_patch_desc),\n"
     "inject the runtime into PID if it is not loaded, load and enable\n"
     "the patch, then drive the patching transition to its end.\n"
     "\n"
     "  --all         do that to every process that has the patch's\n"
     "                objects loaded, one after another (instead of PID)\n"
     "  --timeout S   wait at most S seconds (default 30; 0: no limit);\n"
     "                with --all, for each process\n"
     "  --no-wait     return once the transition has started\n"
     "\n"
     "On timeout (exit 5) the process stays consistent, partially\n"
     "patched: `uklp wait` waits more, `uklp disable` reverses,\n"
     "`uklp force` forces.\n"
     "\n"
     "--all: a process matches when every library the patch names is\n"
     "loaded in it (by file name or soname; with the build-id the patch\n"
     "pins, if any) and, for a patch of the main program, when its\n"
     "program has the build-id the patch pins (a patch of the main\n"
     "program without one is refused: it would match every process).\n"
     "Kernel threads, zombies, uklp itself and processes whose maps\n"
     "cannot be read are left out. One line per matching process,\n"
     "\"PID COMM: patched\", \"PID COMM: already patched\", \"PID COMM:\n"
     "failed: REASON\" or \"PID COMM: skipped: permission denied\" (or\n"
     "exited), then \"N patched, N failed, N skipped\". Exit 0 when every\n"
     "matching process is patched or already was; else the exit code of\n"
     "the first failed process; 3 when no process has the objects (or\n"
     "those that have may not be traced); 2 for a patch of the main\n"
     "program without a pinned build-id.\n",
     "load --all [--timeout S] [--no-wait] PATCH.so"},
    {"disable", cmd_disable, "disable [--timeout S] [--no-wait] PID PATCH",
     "Start unpatching PATCH (a name, or its .so path) and drive the\n"
     "transition to its end. During PATCH's own patching transition this\n"
     "reverses it.\n"
     "\n"
     "  --timeout S   wait at most S seconds (default 30; 0: no limit)\n"
     "  --no-wait     return once the transition has started\n",
     NULL},
    {"enable", cmd_enable, "enable [--timeout S] [--no-wait] PID PATCH",
     "Reverse the unpatching transition of PATCH (re-enable it while\n"
     "`uklp disable` is still in progress). A patch already disabled is\n"
     "loaded again with `uklp load`.\n"
     "\n"
     "  --timeout S   wait at most S seconds (default 30; 0: no limit)\n"
     "  --no-wait     return once the transition has started\n",
     NULL},
    {"force", cmd_force, "force PID PATCH",
     "Finish PATCH's transition now: every thread is switched without\n"
     "the stack check. The patch is marked forced and its code is never\n"
     "unloaded from the process (the kernel's force).\n",
     NULL},
    {"wait", cmd_wait, "wait [--timeout S] PID",
     "Drive the transition in progress in PID to its end.\n"
     "\n"
     "  --timeout S   wait at most S seconds (default 30; 0: no limit)\n",
     NULL},
    {"check", cmd_check, "check PID PATCH.so",
     "Dry run of `uklp load`: resolve and check everything, write\n"
     "nothing. Prints where each object's symbols came from (\"symbols:\n"
     "OBJECT: WHERE\", a separate debug file for a stripped object, see\n"
     "UKLP_DEBUG_DIR), then \"ok: PATCH can be applied to PID\"; or the\n"
     "refusal. The runtime is injected if it is not loaded (the command\n"
     "says so).\n",
     NULL},
    {"inject", cmd_inject, "inject PID",
     "Only load the runtime (libuklp.so) into PID.\n", NULL},
    {"list", cmd_list, "list [--json] [PID]",
     "Show the patches of PID (the kernel's /sys/kernel/livepatch tree:\n"
     "enabled, transition, replace, stack_order, objects, funcs), read\n"
     "from its memory without stopping it. Without PID: every process\n"
     "that has the runtime loaded, each under a \"PID COMM\" header.\n"
     "\n"
     "  --json        JSON (without PID: [{\"pid\", \"comm\", \"tree\"}])\n",
     NULL},
    {"log", cmd_log, "log [-l LEVEL] [--json] PID",
     "Print the runtime's messages (its dmesg), oldest first, read from\n"
     "its memory without stopping it.\n"
     "\n"
     "  -l, --level LEVEL  only messages of LEVEL or more severe: err,\n"
     "                     warning, notice, info, debug or 0..7 (default\n"
     "                     all)\n"
     "  --json             [{\"level\": N, \"text\": \"...\"}]\n",
     NULL},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  operation refused or failed (the target was not changed)\n"
    "  2  usage error (also: load --all of a patch of the main program\n"
    "     that pins no build-id)\n"
    "  3  no such process, or not permitted to trace it (load --all: no\n"
    "     process has the patch's objects, or one that has may not be\n"
    "     traced)\n"
    "  4  not a patch file, or a bad patch file\n"
    "  5  transition still in progress at the timeout (the target is\n"
    "     patched or partially patched, consistently): wait, disable or\n"
    "     force\n"
    "  6  the runtime could not be injected\n";

/* The first message of cmd_err() since cmd_err_reset(). */
static char first_err[1024];

/* "uklp: MESSAGE" on stderr, after what stdout has so far. */
static void vmsg(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("uklp: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cmd_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	if (!first_err[0]) {
		va_start(ap, fmt);
		vsnprintf(first_err, sizeof(first_err), fmt, ap);
		va_end(ap);
	}
}

void cmd_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void cmd_err_reset(void)
{
	first_err[0] = '\0';
}

const char *cmd_err_first(void)
{
	return first_err;
}

void cmd_note(const char *fmt, ...)
{
	va_list ap;

	if (!cmd_verbose)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("uklp: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd)
		fprintf(stderr, "Try 'uklp %s --help'.\n", cmd);
	else
		fputs("Try 'uklp --help'.\n", stderr);
	return CMD_EXIT_USAGE;
}

int cmd_parse_pid(const char *cmd, const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v <= 0 || v > INT_MAX || *s == '+' ||
	    *s == ' ')
		return cmd_usage_error(cmd, "'%s' is not a process id", s);
	*pid = (pid_t)v;
	return 0;
}

int cmd_parse_timeout(const char *cmd, const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v) || v < 0 || v > INT_MAX / 1000)
		return cmd_usage_error(
		    cmd,
		    "timeout '%s' is not a number of seconds (0: no limit)", s);
	*ms = v == 0 ? -1 : (int)(v * 1000);
	if (v > 0 && *ms == 0)
		*ms = 1;
	return 0;
}

static int not_here(const char *cmd, const char *opt)
{
	return cmd_usage_error(cmd, "option '%s' does not apply here", opt);
}

int cmd_options(int argc, char **argv, int allowed, struct cmd_opts *o)
{
	static const struct option longopts[] = {
	    {"timeout", required_argument, NULL, 't'},
	    {"no-wait", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"level", required_argument, NULL, 'l'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"all", no_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = argv[0];
	int c, ret;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = CMD_WAIT_TIMEOUT_MS;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":vl:", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			break; /* seen by main() */
		case 't':
			if (!(allowed & CMD_OPT_TIMEOUT))
				return not_here(cmd, "--timeout");
			ret = cmd_parse_timeout(cmd, optarg, &o->timeout_ms);
			if (ret)
				return ret;
			break;
		case 'n':
			if (!(allowed & CMD_OPT_NOWAIT))
				return not_here(cmd, "--no-wait");
			o->nowait = 1;
			break;
		case 'j':
			if (!(allowed & CMD_OPT_JSON))
				return not_here(cmd, "--json");
			o->json = 1;
			break;
		case 'a':
			if (!(allowed & CMD_OPT_ALL))
				return not_here(cmd, "--all");
			o->all = 1;
			break;
		case 'l':
			if (!(allowed & CMD_OPT_LEVEL))
				return not_here(cmd, "--level");
			o->level = optarg;
			break;
		case ':':
			return cmd_usage_error(cmd, "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			if (optopt)
				return cmd_usage_error(
				    cmd, "unknown option '-%c'", optopt);
			return cmd_usage_error(cmd, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	o->first = optind;
	return 0;
}

int cmd_pid_args(int argc, char **argv, int allowed, struct cmd_opts *o,
		 pid_t *pid)
{
	int ret = cmd_options(argc, argv, allowed, o);

	if (!ret)
		ret = cmd_operands(argc, argv, o, 1, 1, "PID");
	if (!ret)
		ret = cmd_parse_pid(argv[0], argv[o->first], pid);
	return ret;
}

int cmd_operands(int argc, char **argv, const struct cmd_opts *o, int min,
		 int max, const char *names)
{
	int n = argc - o->first;

	if (n < min)
		return cmd_usage_error(argv[0], "missing operand (expected %s)",
				       names);
	if (n > max)
		return cmd_usage_error(argv[0],
				       "unexpected operand '%s' "
				       "(expected %s)",
				       argv[o->first + max], names);
	return 0;
}

void cmd_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*c < 0x20)
				fprintf(f, "\\u%04x", *c);
			else
				fputc(*c, f);
		}
	}
	fputc('"', f);
}

void cmd_patch_name(const char *arg, char *out, size_t len)
{
	const char *b = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
	size_t n = strlen(b);

	/* The runtime's rule: the file's base name without ".so". */
	if (n > 3 && !strcmp(b + n - 3, ".so"))
		n -= 3;
	if (n >= len)
		n = len - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

static void usage(FILE *f)
{
	fputs("Usage: uklp [-v] COMMAND [OPTIONS] ARGS...\n"
	      "Live-patch functions of running processes.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		fprintf(f, "  uklp %s\n", commands[i].synopsis);
		if (commands[i].synopsis2)
			fprintf(f, "  uklp %s\n", commands[i].synopsis2);
	}
	fputs("\n"
	      "Options:\n"
	      "  -v, --verbose  tell each step (also UKLP_TOOL_STEPS=1)\n"
	      "  -h, --help     this help; `uklp COMMAND --help` for one "
	      "command\n"
	      "  --version      the version\n"
	      "\n",
	      f);
	fputs(exit_codes, f);
	fputs("\n"
	      "Environment: UKLP_RUNTIME=path of libuklp.so to inject "
	      "(default: next\n"
	      "to uklp, or ../lib/ relative to it). UKLP_DEBUG_DIR=roots of "
	      "separate\n"
	      "debug files, colon-separated (default /usr/lib/debug; the "
	      "target needs\n"
	      "it in its environment too).\n"
	      "See uklp(1).\n",
	      f);
}

static void command_help(const struct command *c)
{
	printf("Usage: uklp %s\n", c->synopsis);
	if (c->synopsis2)
		printf("       uklp %s\n", c->synopsis2);
	printf("\n%s\n%s", c->help, exit_codes);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void set_verbose(void)
{
	cmd_verbose = 1;
	/* The tool's numbered steps (tool/step.h) print with this. */
	setenv("UKLP_TOOL_STEPS", "1", 0);
}

/**
 * main() - uklp [-v] COMMAND [OPTIONS] ARGS...
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an exit code of enum cmd_exit.
 */
int main(int argc, char **argv)
{
	const struct command *c;
	int ret;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			set_verbose();
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return CMD_EXIT_OK;
		} else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("uklp %s (runtime protocol %d, patch ABI %d)\n",
			       UKLP_TOOL_VERSION, UKLP_ABI_STATUS_VERSION,
			       UKLP_ABI_VERSION);
			return CMD_EXIT_OK;
		} else if (!strcmp(a, "--")) {
			i++;
			break;
		} else {
			return cmd_usage_error(NULL, "unknown option '%s'", a);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CMD_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		if (i + 1 >= argc) {
			usage(stdout);
			return CMD_EXIT_OK;
		}
		c = find_command(argv[i + 1]);
		if (!c)
			return cmd_usage_error(NULL, "unknown command '%s'",
					       argv[i + 1]);
		command_help(c);
		return CMD_EXIT_OK;
	}
	c = find_command(argv[i]);
	if (!c)
		return cmd_usage_error(NULL, "unknown command '%s'", argv[i]);

	for (int k = i + 1; k < argc; k++) {
		if (!strcmp(argv[k], "--"))
			break;
		if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
			command_help(c);
			return CMD_EXIT_OK;
		}
		if (!strcmp(argv[k], "-v") || !strcmp(argv[k], "--verbose"))
			set_verbose();
	}
	/* Before any work: a busy target would otherwise keep the tool from
	 * a CPU for a whole scheduling round now and then (about 1 s with
	 * 500 busy threads on 2 CPUs, between two steps of a load). */
	prio_boost_self();
	ret = c->fn(argc - i, argv + i);
	if (getenv("UKLP_TOOL_RC"))
		fprintf(stderr, "uklp-rc: %ld\n", cmd_last_rc);
	return ret;
}
