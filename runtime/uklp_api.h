/* SPDX-License-Identifier: MIT */
#ifndef UKLP_API_H
#define UKLP_API_H
/* Marks the few functions libuklp.so exports (it is built -fvisibility=hidden).
 */
#define UKLP_API __attribute__((visibility("default")))
#endif
