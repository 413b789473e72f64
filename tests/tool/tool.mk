# tool.mk - the programs of the uklp tool's scenarios (tests/tool/*.sh);
# included by the top Makefile, which defines B, CC and CFLAGS_BASE.
#
#   $(B)/tests/tool/snapshot             mappings + code hashes of a process
#   $(B)/tests/tool/patches/NAME.so      bad patches (tests/tool/patches/NAME.c)

TOOL_TEST_PATCH_NAMES := $(basename $(notdir $(wildcard tests/tool/patches/*.c)))
TOOL_TEST_PATCHES := $(TOOL_TEST_PATCH_NAMES:%=$(B)/tests/tool/patches/%.so)
TOOL_TEST_BIN := $(B)/tests/tool/snapshot

$(B)/tests/tool/snapshot: tests/tool/snapshot.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $< -o $@

# Like tests/patches: uklp symbols left undefined (bound to the runtime in
# the target).
$(B)/tests/tool/patches/%.so: tests/tool/patches/%.c include/uklp/livepatch.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared $< -o $@

.PHONY: tests-build
tests-build: $(TOOL_TEST_BIN) $(TOOL_TEST_PATCHES)
