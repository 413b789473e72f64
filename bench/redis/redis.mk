# redis.mk - the redis benchmark (bench/redis/run.sh); included by the top
# Makefile, which defines B, CC and CFLAGS_BASE.
#
#   $(B)/bench/redis/redis-pingload   PING load generator with per-window
#                                     ops/s and latency around commands
#
# The patch is the sample's, $(B)/samples/redis/redis-ping.so.

.PHONY: bench-redis-build

$(B)/bench/redis/redis-pingload: bench/redis/pingload.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $< -lpthread -o $@

bench-redis-build: $(B)/bench/redis/redis-pingload \
	$(B)/samples/redis/redis-ping.so $(B)/libuklp.so $(B)/uklp
