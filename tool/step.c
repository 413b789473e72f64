// SPDX-License-Identifier: MIT
/*
 * step.c - numbered points of the tool's work. Tests kill the tool at each
 * of them in turn (UKLP_TOOL_KILL_AT=N) to check that the target survives
 * a tool that dies at any moment; UKLP_TOOL_STEPS=1 lists them on stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "step.h"

static unsigned long step_n;
/* The environment, read at the first step: steps are passed while a
 * thread is stopped, 10 and more per stop. */
static int show_mode = -1; /* -1: not read yet, 0: off, 1: steps, 2: time */
static unsigned long kill_at;

static void read_env(void)
{
	const char *show = getenv("UKLP_TOOL_STEPS");
	const char *k = getenv("UKLP_TOOL_KILL_AT");

	show_mode = !show || !*show || !strcmp(show, "0") ? 0
		    : !strcmp(show, "time")		  ? 2
							  : 1;
	kill_at = k && *k ? strtoul(k, NULL, 10) : 0;
}

/**
 * step() - pass a numbered point
 * @what:	short description ("seized thread", "wrote stub", ...)
 *
 * The Nth call prints "step N: what" on stderr when UKLP_TOOL_STEPS is set
 * (and not "0"; "time": followed by " @SECONDS" of CLOCK_MONOTONIC, to see
 * where the time of a command goes), and raises SIGKILL when
 * UKLP_TOOL_KILL_AT is N.
 */
void step(const char *what)
{
	unsigned long n = ++step_n;

	if (show_mode < 0)
		read_env();
	if (show_mode == 2) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(stderr, "step %lu: %s @%lld.%06ld\n", n, what,
			(long long)ts.tv_sec, ts.tv_nsec / 1000);
	} else if (show_mode) {
		fprintf(stderr, "step %lu: %s\n", n, what);
	}
	if (kill_at == n) {
		fflush(stderr);
		raise(SIGKILL);
	}
}

/**
 * step_count() - how many points were passed so far
 *
 * Return: the number of step() calls.
 */
unsigned long step_count(void)
{
	return step_n;
}
