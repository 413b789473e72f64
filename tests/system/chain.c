// SPDX-License-Identifier: MIT
/*
 * chain.c - the two functions the system tests patch.
 *
 * Built with -fpatchable-function-entry=16,14 (system.mk) and linked into
 * each system test program, so that both are patchable functions of the
 * main executable. chain_f() calls chain_g() and returns both versions in
 * one value: bits 8.. are f's version, bits 0..7 g's. The original versions
 * are 1; consistency_patch.so's are 2. A thread that ever sees a value other
 * than 0x101 or 0x202 ran one version of f with the other version of g.
 *
 * noipa (noinline and no interprocedural analysis): gcc must neither inline
 * chain_g() into chain_f() nor propagate its constant return value, or
 * chain_f() would not go through chain_g()'s (patched) entry.
 */

int chain_f(void);
int chain_g(void);

/**
 * chain_g() - the inner function of the chain (original version)
 *
 * Return: 1, the original version number.
 */
__attribute__((noipa, visibility("default"))) int chain_g(void)
{
	return 1;
}

/**
 * chain_f() - the outer function of the chain (original version)
 *
 * Calls chain_g() once, through its entry.
 *
 * Return: (1 << 8) | chain_g().
 */
__attribute__((noipa, visibility("default"))) int chain_f(void)
{
	return (1 << 8) | chain_g();
}
