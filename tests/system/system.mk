# system.mk - whole-process system tests (included by the top Makefile,
# which defines B, CC, CFLAGS_BASE and the phony tests-build).
#
#   $(B)/tests/system/test_X               tests/system/test_X.c + chain.c,
#                                          linked with libuklp.so
#   $(B)/tests/system/test_X-prologue      the same with chain.c built
#                                          without instrumentation flags:
#                                          its functions get prologue sites
#   $(B)/tests/system/consistency_patch.so their patch
#   $(B)/tests/system/test_prologue_parked a thread parked inside a
#                                          prologue site's displaced bytes
#   $(B)/tests/system/parked_patch.so      its patch
#
# tests/run.sh runs each $(B)/tests/system/test_* with a scratch directory.
# The tests find consistency_patch.so next to themselves.

SYSTEM_TEST_NAMES := test_consistency test_cycles
SYSTEM_TEST_BIN := $(SYSTEM_TEST_NAMES:%=$(B)/tests/system/%)
SYSTEM_TEST_PROLOGUE_BIN := $(SYSTEM_TEST_NAMES:%=$(B)/tests/system/%-prologue)
SYSTEM_PATCH := $(B)/tests/system/consistency_patch.so
SYSTEM_HDRS := include/uklp/livepatch.h include/uklp/control.h \
	tests/system/chain.h

# The patchable functions: pad sites, as the conformance target's.
$(B)/tests/system/chain.o: tests/system/chain.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fpatchable-function-entry=16,14 -c $< -o $@

# The same, as a distribution would build it: prologue sites.
$(B)/tests/system/chain-plain.o: tests/system/chain.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -c $< -o $@

# Linked with the runtime (loaded at start, found by the rpath); no
# sanitizer, as the conformance target.
$(SYSTEM_TEST_BIN): $(B)/tests/system/%: tests/system/%.c \
		$(B)/tests/system/chain.o $(B)/libuklp.so $(SYSTEM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $< $(B)/tests/system/chain.o -L$(B) -luklp \
		-Wl,-rpath,$(abspath $(B)) -lpthread -o $@

$(SYSTEM_TEST_PROLOGUE_BIN): $(B)/tests/system/%-prologue: \
		tests/system/%.c $(B)/tests/system/chain-plain.o \
		$(B)/libuklp.so $(SYSTEM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $< $(B)/tests/system/chain-plain.o -L$(B) \
		-luklp -Wl,-rpath,$(abspath $(B)) -lpthread -o $@

$(B)/tests/system/test_prologue_parked: tests/system/test_prologue_parked.c \
		$(B)/libuklp.so include/uklp/control.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $< -L$(B) -luklp -Wl,-rpath,$(abspath $(B)) \
		-lpthread -o $@

# Its klp symbols stay undefined: they bind to the runtime in the process.
$(SYSTEM_PATCH): tests/system/consistency_patch.c include/uklp/livepatch.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared $< -o $@

$(B)/tests/system/parked_patch.so: tests/system/parked_patch.c \
		include/uklp/livepatch.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared $< -o $@

tests-build: $(SYSTEM_TEST_BIN) $(SYSTEM_TEST_PROLOGUE_BIN) $(SYSTEM_PATCH) \
	$(B)/tests/system/test_prologue_parked \
	$(B)/tests/system/parked_patch.so
