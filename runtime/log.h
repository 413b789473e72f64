/* SPDX-License-Identifier: MIT */
/*
 * log - the runtime's message ring, its dmesg. Prefix: log_ / pr_*.
 *
 * Lines are kept in a fixed ring in the process's memory that an outside
 * reader finds through the exported symbol uklp_log_ring (see struct
 * log_ring); the kernel's livepatch messages carry its "livepatch: " prefix.
 */
#ifndef UKLP_LOG_H
#define UKLP_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <uklp/livepatch.h>

#define LOG_RING_SIZE (256 * 1024)
#define LOG_LINE_MAX  512

/*
 * The ring, exported for readers outside the process: @data holds
 * NUL-separated records "<level><text>" where level is one ASCII digit.
 * @head counts bytes ever written; the live text is the last
 * min(head, LOG_RING_SIZE) bytes before head (modulo the size). Writers
 * serialize on a lock; readers copy and re-check @seq (even when stable).
 */
struct log_ring {
	uint32_t magic; /* LOG_RING_MAGIC */
	uint32_t size;	/* LOG_RING_SIZE */
	volatile uint64_t seq;
	volatile uint64_t head;
	char data[LOG_RING_SIZE];
};
#define LOG_RING_MAGIC 0x676f6c75u /* "ulog" */

extern struct log_ring uklp_log_ring;

/* pr_fmt of the runtime, as the kernel's livepatch code uses "livepatch: " */
#define pr_err(fmt, ...)                                                       \
	uklp_printk(UKLP_LOG_ERR, "livepatch: " fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)                                                      \
	uklp_printk(UKLP_LOG_WARNING, "livepatch: " fmt, ##__VA_ARGS__)
#define pr_notice(fmt, ...)                                                    \
	uklp_printk(UKLP_LOG_NOTICE, "livepatch: " fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)                                                      \
	uklp_printk(UKLP_LOG_INFO, "livepatch: " fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)                                                     \
	uklp_printk(UKLP_LOG_DEBUG, "livepatch: " fmt, ##__VA_ARGS__)

/**
 * log_read() - copy the ring's lines, oldest first, one per line
 * @buf:	destination (NUL-terminated, truncated to @len)
 * @len:	its size
 * @min_level:	only lines with level <= this (UKLP_LOG_DEBUG: all)
 *
 * Return: the length the whole text needs, without the NUL.
 */
size_t log_read(char *buf, size_t len, int min_level);

/**
 * log_init() - read UKLP_LOG (stderr printing) and UKLP_LOG_LEVEL
 */
void log_init(void);

#endif
