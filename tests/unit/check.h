/* SPDX-License-Identifier: MIT */
/*
 * check.h - the check() of the unit tests that print one "ok: ..." or
 * "FAIL: ..." line per check, and their counters. Included once by each
 * test program (the definitions are static).
 */
#ifndef UKLP_TESTS_CHECK_H
#define UKLP_TESTS_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int nchecks;
static int nfailed;

static void check(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));

/* Count a check and print its line; @ok false makes it a failure. */
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	nchecks++;
	if (!ok)
		nfailed++;
	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#endif
