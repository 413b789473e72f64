// SPDX-License-Identifier: MIT
/*
 * log.c - the message ring (the kernel's printk buffer for livepatch).
 *
 * Every line is stored with its level; all levels go to the ring (as the
 * kernel's pr_debug with dynamic debug on would), so that `uklp log` shows
 * the kernel's full transcript. UKLP_LOG=stderr also prints lines with a
 * level up to UKLP_LOG_LEVEL (default 6, info) to standard error: logging
 * is silent by default.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "uklp_api.h"

UKLP_API struct log_ring uklp_log_ring = {
    .magic = LOG_RING_MAGIC,
    .size = LOG_RING_SIZE,
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_to_stderr;
static int log_stderr_level = UKLP_LOG_INFO;

void log_init(void)
{
	const char *s = getenv("UKLP_LOG");
	const char *l = getenv("UKLP_LOG_LEVEL");

	log_to_stderr = s && !strcmp(s, "stderr");
	if (l && *l >= '0' && *l <= '7')
		log_stderr_level = *l - '0';
}

static void ring_put(const char *rec, size_t n)
{
	struct log_ring *r = &uklp_log_ring;
	uint64_t h = r->head;

	for (size_t i = 0; i < n; i++)
		r->data[(h + i) % LOG_RING_SIZE] = rec[i];
	/* Publish the bytes before the new head; pairs with log_read()'s
	 * acquire. */
	__atomic_store_n(&r->head, h + n, __ATOMIC_RELEASE);
}

/**
 * uklp_printk() - add a line to the message ring
 * @level:	UKLP_LOG_* level
 * @fmt:	printf format
 *
 * Async-signal-unsafe (takes a mutex); never called from signal handlers.
 */
UKLP_API void uklp_printk(int level, const char *fmt, ...)
{
	char rec[LOG_LINE_MAX + 2];
	va_list ap;
	int n;

	if (level < 0 || level > 7)
		level = UKLP_LOG_INFO;
	rec[0] = (char)('0' + level);
	va_start(ap, fmt);
	n = vsnprintf(rec + 1, LOG_LINE_MAX, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= LOG_LINE_MAX)
		n = LOG_LINE_MAX - 1;
	while (n > 0 && rec[n] == '\n')
		n--;
	rec[n + 1] = '\0';

	pthread_mutex_lock(&log_lock);
	/* Odd seq: a write is in progress (pairs with the read side's check).
	 */
	__atomic_add_fetch(&uklp_log_ring.seq, 1, __ATOMIC_SEQ_CST);
	ring_put(rec, (size_t)n + 2);
	__atomic_add_fetch(&uklp_log_ring.seq, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&log_lock);

	if (log_to_stderr && level <= log_stderr_level) {
		char line[LOG_LINE_MAX + 2];
		int m = snprintf(line, sizeof(line), "%s\n", rec + 1);

		if (write(STDERR_FILENO, line, (size_t)m) < 0)
			return;
	}
}

size_t log_read(char *buf, size_t len, int min_level)
{
	struct log_ring *r = &uklp_log_ring;
	size_t out = 0, avail, start;
	char *copy;

	copy = malloc(LOG_RING_SIZE);
	if (!copy) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	pthread_mutex_lock(&log_lock);
	uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);

	avail = head < LOG_RING_SIZE ? head : LOG_RING_SIZE;
	for (size_t i = 0; i < avail; i++)
		copy[i] = r->data[(head - avail + i) % LOG_RING_SIZE];
	pthread_mutex_unlock(&log_lock);

	/* When the ring wrapped, skip the partial record at the start. */
	start = 0;
	if (head > LOG_RING_SIZE) {
		while (start < avail && copy[start] != '\0')
			start++;
		start++;
	}
	for (size_t i = start; i < avail;) {
		size_t l = strnlen(copy + i, avail - i);
		int lvl = copy[i] - '0';

		if (l >= 1 && lvl <= min_level) {
			for (size_t k = 1; k < l; k++, out++)
				if (out + 1 < len)
					buf[out] = copy[i + k];
			if (out + 1 < len)
				buf[out] = '\n';
			out++;
		}
		i += l + 1;
	}
	if (len)
		buf[out < len ? out : len - 1] = '\0';
	free(copy);
	return out;
}
