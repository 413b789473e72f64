// SPDX-License-Identifier: MIT
/*
 * redis-ping.c - a live patch of Debian 12's unmodified redis-server
 * (package redis-server 5:7.0.15-1~deb12u*, /usr/bin/redis-server): PING
 * without an argument answers the status "+PONG (live patched by uklp)"
 * instead of "+PONG". See samples/redis/README.md.
 *
 * The binary is stripped but built with -rdynamic: pingCommand() and the
 * reply functions are in its .dynsym. uklp finds pingCommand() there, and
 * since it has no compiler-prepared site, patches it at a prologue site
 * (its first instructions are relocated). The functions this patch calls
 * (addReply*) are declared extern below; the dynamic linker binds them to
 * the executable's exported definitions when the runtime dlopens the patch
 * into redis-server.
 *
 * The patch reads two fields of redis' struct client, whose offsets are
 * those of this build (see struct ping_client): the klp_object is pinned
 * to the executable's GNU build-id, so that any other build of redis
 * (whose layout may differ) is refused before anything is patched:
 *
 *   object '(main executable)' has build-id ..., the patch was made for
 *   a50d6825...
 *
 * Redis 7.0's pingCommand() (src/server.c), which this replaces:
 *
 *	void pingCommand(client *c) {
 *	    if (c->argc > 2) {
 *	        addReplyErrorArity(c);
 *	        return;
 *	    }
 *	    if (c->flags & CLIENT_PUBSUB && c->resp == 2) {
 *	        addReply(c,shared.mbulkhdr[2]);
 *	        addReplyBulkCBuffer(c,"pong",4);
 *	        if (c->argc == 1)
 *	            addReplyBulkCBuffer(c,"",0);
 *	        else
 *	            addReplyBulk(c,c->argv[1]);
 *	    } else {
 *	        if (c->argc == 1)
 *	            addReply(c,shared.pong);
 *	        else
 *	            addReplyBulk(c,c->argv[1]);
 *	    }
 *	}
 *
 * The replacement differs in one case only: a client that is not a RESP2
 * subscriber sending PING without argument gets the status reply
 * PATCHED_PONG. A RESP2 client in subscribed (pub/sub) context still gets
 * the array ["pong", ""] (or ["pong", ARG]) exactly as before: clients
 * such as redis-py compare that reply to what they expect in their health
 * checks, so the patch leaves it alone. PING with an argument echoes it as
 * a bulk string, and more than one argument is the arity error, as in the
 * original.
 */
#include <stddef.h>
#include <stdint.h>

#include <uklp/livepatch.h>

/* The build of /usr/bin/redis-server this patch was made for. */
#define REDIS_BUILD_ID "a50d6825e71f1473372299161f75fe50e80452de"

/* What PING without argument answers once patched (a status reply). */
#define PATCHED_PONG "PONG (live patched by uklp)"

/* src/server.h: CLIENT_PUBSUB, a flag of client->flags. */
#define CLIENT_PUBSUB (1ULL << 18)

struct redisObject; /* robj: opaque here */

/*
 * The beginning of redis 7.0.15's struct client (src/server.h), as laid
 * out in this build: pingCommand() reads flags at 0x8, resp at 0x18, argc
 * at 0x48 and argv at 0x50 (its code: "mov 0x48(%rdi),%eax",
 * "testb $0x4,0xa(%rdi)", "cmpl $0x2,0x18(%rdi)", "mov 0x50(%rdi),%rax").
 * Only these fields are used; the struct is never allocated here.
 */
struct ping_client {
	uint64_t id;
	uint64_t flags;
	void *conn;
	int resp;
	void *db;
	void *name;
	char *querybuf;
	size_t qb_pos;
	size_t querybuf_peak;
	int argc;
	struct redisObject **argv;
};

_Static_assert(offsetof(struct ping_client, flags) == 0x8, "client.flags");
_Static_assert(offsetof(struct ping_client, resp) == 0x18, "client.resp");
_Static_assert(offsetof(struct ping_client, argc) == 0x48, "client.argc");
_Static_assert(offsetof(struct ping_client, argv) == 0x50, "client.argv");

/*
 * redis-server's own functions (src/networking.c), exported by the
 * executable; bound by the dynamic linker when the patch is loaded.
 */
extern void addReplyStatus(struct ping_client *c, const char *status);
extern void addReplyBulk(struct ping_client *c, struct redisObject *obj);
extern void addReplyBulkCBuffer(struct ping_client *c, const void *p,
				size_t len);
extern void addReplyArrayLen(struct ping_client *c, long length);
extern void addReplyErrorArity(struct ping_client *c);

/* The replacement of pingCommand(): same prototype, void (client *). */
static void uklp_pingCommand(struct ping_client *c)
{
	/* The command takes zero or one arguments. */
	if (c->argc > 2) {
		addReplyErrorArity(c);
		return;
	}

	if ((c->flags & CLIENT_PUBSUB) && c->resp == 2) {
		/*
		 * Subscribed RESP2 context: unchanged. addReplyArrayLen(c, 2)
		 * writes "*2\r\n", as the original's shared.mbulkhdr[2].
		 */
		addReplyArrayLen(c, 2);
		addReplyBulkCBuffer(c, "pong", 4);
		if (c->argc == 1)
			addReplyBulkCBuffer(c, "", 0);
		else
			addReplyBulk(c, c->argv[1]);
	} else {
		if (c->argc == 1)
			addReplyStatus(c, PATCHED_PONG);
		else
			addReplyBulk(c, c->argv[1]);
	}
}

static struct klp_func funcs[] = {{
				      .old_name = "pingCommand",
				      .new_func = uklp_pingCommand,
				  },
				  {}};

static struct klp_object objs[] = {{
				       /* NULL: the main executable */
				       .name = NULL,
				       .funcs = funcs,
				       .build_id = REDIS_BUILD_ID,
				   },
				   {}};

static struct klp_patch patch = {
    .objs = objs,
};

KLP_PATCH(patch);
