# tool.mk - the programs of the uklp tool's scenarios (tests/tool/*.sh);
# included by the top Makefile, which defines B, CC and CFLAGS_BASE.
#
#   $(B)/tests/tool/snapshot             mappings + code hashes of a process
#   $(B)/tests/tool/patches/NAME.so      bad patches (tests/tool/patches/NAME.c)
#   $(B)/tests/tool/target-stripped      the test target stripped as a
#                                        distribution binary, with a debuglink
#   $(B)/tests/tool/dbg/target-stripped.debug   its separate debug file

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

# The target as a distribution ships it: no .symtab (its static functions
# only in the debug file), a build-id and a .gnu_debuglink. The debug file
# is kept away from the places the link points to (next to the binary, its
# .debug/): the scenario puts it in a build-id tree of its own.
TOOL_TEST_STRIPPED := $(B)/tests/tool/target-stripped
TOOL_TEST_STRIPPED_DEBUG := $(B)/tests/tool/dbg/target-stripped.debug

$(TOOL_TEST_STRIPPED_DEBUG): $(B)/tests/target
	@mkdir -p $(dir $@)
	objcopy --only-keep-debug $< $@

$(TOOL_TEST_STRIPPED): $(B)/tests/target $(TOOL_TEST_STRIPPED_DEBUG)
	@mkdir -p $(dir $@)
	strip --strip-debug --strip-unneeded -o $@.tmp $<
	objcopy --add-gnu-debuglink=$(TOOL_TEST_STRIPPED_DEBUG) $@.tmp $@
	rm -f $@.tmp

.PHONY: tests-build
tests-build: $(TOOL_TEST_BIN) $(TOOL_TEST_PATCHES) $(TOOL_TEST_STRIPPED)
