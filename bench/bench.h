/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the functions bench/callcost.c measures and bench/bench_patch.c
 * replaces. bench_fn.c is compiled with the site flags under test
 * (-fpatchable-function-entry=16,14 or 5,0); the patch is compiled plain.
 */
#ifndef UKLP_BENCH_H
#define UKLP_BENCH_H

/* Calls of the original bench_fn() (the patch counts its own). */
extern unsigned long bench_calls_old, bench_calls_ref;

/* The measured function: x + 1, and one counter increment. */
int bench_fn(int x);

/* A copy of bench_fn() that is never patched (the timing reference). */
int bench_ref(int x);

/*
 * Sleeps (10 ms at a time) until *@leave, after setting *@entered: a thread
 * parked in the original keeps a transition of bench_patch open.
 */
void bench_block(volatile int *entered, volatile int *leave);

/*
 * Calls @body(@arg) and stays on the stack meanwhile: a thread that entered
 * the original before bench_patch was loaded cannot switch to PATCHED.
 * Return: how many times the original ran (for the program's checks).
 */
unsigned long bench_outer(void (*body)(void *), void *arg);

#endif
