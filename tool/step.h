/* SPDX-License-Identifier: MIT */
/*
 * step - numbered points of the tool's work where tests kill it
 * (UKLP_TOOL_KILL_AT=N makes the tool SIGKILL itself at the Nth point;
 * UKLP_TOOL_STEPS=1 prints each point on stderr). Prefix: step_.
 */
#ifndef UKLP_TOOL_STEP_H
#define UKLP_TOOL_STEP_H

/**
 * step() - pass a numbered point
 * @what:	short description ("seized thread", "wrote stub", ...)
 */
void step(const char *what);

/**
 * step_count() - how many points were passed so far
 *
 * Return: the number of step() calls.
 */
unsigned long step_count(void);

#endif
