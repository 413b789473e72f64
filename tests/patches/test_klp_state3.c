// SPDX-License-Identifier: MIT
/*
 * test_klp_state3.c - port of the kernel's test_klp_state3: the same patch
 * as test_klp_state2 under another name (a compatible cumulative patch).
 */
#include "test_klp_state2.c"
