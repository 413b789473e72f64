# samples.mk - the demo's programs (included by the top Makefile, which
# defines B, CC, CFLAGS_BASE).
#
#   $(B)/samples/cmdline-server        the program to live patch (pad sites)
#   $(B)/samples/ask                   its client: prints one answer
#   $(B)/samples/livepatch-sample.so   the patch (kernel samples/livepatch)
#   $(B)/samples/redis/redis-ping.so   a patch of Debian 12's redis-server
#                                      (samples/redis/README.md)
#
# The server is an ordinary program: it links neither libuklp nor a
# sanitizer. Its only requirement is the compiler's patchable entries.

.PHONY: samples-build

SAMPLE_SITE_FLAGS := -fpatchable-function-entry=16,14

$(B)/samples/cmdline-server: samples/cmdline-server.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAMPLE_SITE_FLAGS) $< -lpthread -o $@

$(B)/samples/ask: samples/ask.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $< -o $@

# Like the test patches: uklp/klp symbols stay undefined and bind to the
# runtime already in the target.
$(B)/samples/livepatch-sample.so: samples/livepatch-sample.c include/uklp/livepatch.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared $< -o $@

# redis-server's functions it calls stay undefined too: the dynamic linker
# binds them to the executable's exports (redis is built with -rdynamic).
$(B)/samples/redis/redis-ping.so: samples/redis/redis-ping.c include/uklp/livepatch.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared $< -o $@

samples-build: $(B)/samples/cmdline-server $(B)/samples/ask \
	$(B)/samples/livepatch-sample.so $(B)/samples/redis/redis-ping.so
