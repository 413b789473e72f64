// SPDX-License-Identifier: MIT
/*
 * ask.c - the demo's client: one request to cmdline-server.
 *
 *	ask ADDR
 *
 * Connects to ADDR (a UNIX socket path, or IPV4:PORT as cmdline-server
 * takes it), copies the answer to standard output and exits 0; exits 1
 * with a message when it cannot connect or read, or the answer is empty.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Connect to IPV4:PORT if @addr is one, else to the UNIX socket @addr. */
static int connect_to(const char *addr)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char *end;
	unsigned long port = 0;
	int fd, inet = 0;

	if (colon && !strchr(addr, '/') &&
	    (size_t)(colon - addr) < sizeof(host)) {
		memcpy(host, addr, colon - addr);
		host[colon - addr] = '\0';
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		inet = colon[1] && !*end && !errno && port <= 65535 &&
		       inet_pton(AF_INET, host, &sin.sin_addr) == 1;
	}
	if (inet) {
		sin.sin_port = htons(port);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			return fd;
	} else {
		if (strlen(addr) >= sizeof(sun.sun_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcpy(sun.sun_path, addr);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
	}
	if (fd >= 0) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

int main(int argc, char **argv)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;
	int fd;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: ask ADDR (a UNIX socket path, or "
				"IPV4:PORT)\n");
		return 2;
	}
	fd = connect_to(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "ask: cannot connect to %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (fwrite(buf, 1, n, stdout) != (size_t)n)
			break;
		total += n;
	}
	if (n < 0)
		fprintf(stderr, "ask: read: %s\n", strerror(errno));
	else if (!total)
		fprintf(stderr, "ask: %s closed without an answer\n", argv[1]);
	close(fd);
	if (fflush(stdout) || n != 0 || !total)
		return 1;
	return 0;
}
