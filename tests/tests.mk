# tests.mk - the test programs (included by the top Makefile, which defines
# B, CC, CFLAGS_BASE, TOOL_CFLAGS, LIBS, UNIT_BIN).
#
#   $(B)/tests/unit/test_X         unit tests (tests/unit/test_X.c)
#   $(B)/tests/target              conformance target, pad sites (16,14)
#   $(B)/tests/target-nop          the same with 5-byte nop sites
#   $(B)/tests/target-fentry       the same with -pg -mfentry call sites
#   $(B)/tests/lib*.so             the target's libraries (kernel target modules)
#   $(B)/tests/plain/V/target      the target with no instrumentation flag at all
#   $(B)/tests/plain/V/lib*.so     (prologue sites), and its libraries, for each
#                                  V in O0-pie O0-nopie O2-pie O2-nopie O3-pie
#                                  O3-nopie (-O level; -fPIE -pie or -fno-pie
#                                  -no-pie); plain/V/patches -> ../../patches
#   $(B)/tests/patches/NAME.so     test patches (kernel test_klp_* modules)
#   $(B)/tests/patches/V/NAME.so   build variant V of a patch (module parameters)

.PHONY: tests-build

# Unit tests link the internal library; a test that needs more sources (of
# the runtime, say) names them in UNIT_SRC_test_X. They are compiled with
# TOOL_CFLAGS, hence with the sanitizers under SAN=1.
UNIT_SRC_test_poke := runtime/arch/x86_64/poke.c runtime/threads.c common/x86insn.c
UNIT_SRC_test_shadow := runtime/shadow.c
UNIT_SRC_test_patchdesc := tool/patchdesc.c
UNIT_SRC_test_x86reloc := tests/unit/fixtures/prologues.S common/x86reloc.c
UNIT_SRC_test_site := runtime/arch/x86_64/site.c runtime/arch/x86_64/poke.c \
	runtime/arch/x86_64/tramp.c runtime/threads.c common/x86insn.c
UNIT_SRC_test_hook_ftrace := runtime/hook.c runtime/objects.c runtime/threads.c \
	runtime/arch/x86_64/poke.c runtime/arch/x86_64/tramp.c \
	runtime/arch/x86_64/site.c common/x86insn.c runtime/log.c

TEST_HDRS := $(wildcard include/uklp/*.h common/*.h runtime/*.h runtime/arch/x86_64/*.h tests/unit/*.h)

define UNIT_TEST_RULE
$(B)/tests/unit/$(1): tests/unit/$(1).c $(UNIT_SRC_$(1)) $(B)/libuklp-common.a $(TEST_HDRS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(TOOL_CFLAGS) $$< $(UNIT_SRC_$(1)) $$(B)/libuklp-common.a $$(LIBS) -o $$@
endef
$(foreach t,$(UNIT_BIN:$(B)/tests/unit/%=%),$(eval $(call UNIT_TEST_RULE,$(t))))

# The target, in three site flavours. It finds the runtime with dlsym, so it
# links neither libuklp nor a sanitizer (it runs with the runtime preloaded).
TEST_TARGET_SRC := tests/target/target.c tests/target/target_dup.c
TEST_TARGET_DEPS := tests/target/target.h include/uklp/livepatch.h include/uklp/control.h
TEST_TARGET_LDLIBS := -ldl -lpthread

TEST_SITE_FLAGS_pad := -fpatchable-function-entry=16,14
TEST_SITE_FLAGS_nop := -fpatchable-function-entry=5,0
# -pg only when compiling: linked without it, no gcrt1.o and no gmon.out.
# Note: gcc builds PIE by default here, and then emits the 6-byte
# "call *__fentry__@GOTPCREL(%rip)"; -fno-pie (with -no-pie at link) gives
# the 5-byte "call __fentry__" instead.
TEST_SITE_FLAGS_fentry := -pg -mfentry

$(B)/tests/obj/pad/%.o: tests/target/%.c $(TEST_TARGET_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(TEST_SITE_FLAGS_pad) -c $< -o $@

$(B)/tests/obj/nop/%.o: tests/target/%.c $(TEST_TARGET_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(TEST_SITE_FLAGS_nop) -c $< -o $@

$(B)/tests/obj/fentry/%.o: tests/target/%.c $(TEST_TARGET_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(TEST_SITE_FLAGS_fentry) -c $< -o $@

# target.o first: its local_helper is symbol position 1, target_dup.o's is 2.
$(B)/tests/target: $(TEST_TARGET_SRC:tests/target/%.c=$(B)/tests/obj/pad/%.o)
	$(CC) $^ $(TEST_TARGET_LDLIBS) -o $@

$(B)/tests/target-nop: $(TEST_TARGET_SRC:tests/target/%.c=$(B)/tests/obj/nop/%.o)
	$(CC) $^ $(TEST_TARGET_LDLIBS) -o $@

$(B)/tests/target-fentry: $(TEST_TARGET_SRC:tests/target/%.c=$(B)/tests/obj/fentry/%.o)
	$(CC) $^ $(TEST_TARGET_LDLIBS) -o $@

TEST_TARGETS := $(B)/tests/target $(B)/tests/target-nop $(B)/tests/target-fentry

# The "plain" variants: the target and its libraries built as a distribution
# builds them, with no instrumentation flag at all (no patchable entry, no
# -pg/-mfentry, no -mnop-mcount), so that every function is patched through
# a prologue site. V is O0, O2 or O3 and pie (-fPIE -pie) or nopie (-fno-pie
# -no-pie); the libraries are -fPIC shared objects at V's -O level. Each
# variant directory gets a symlink patches -> ../../patches, since the
# target takes "load patches/X.so" and "dlopen libX.so" relative to its own
# directory (tests/lib/common.sh: UKLP_TARGET_VARIANT=V selects one).
TEST_PLAIN_OPTS := O0 O2 O3
TEST_PLAIN_VARIANTS := $(foreach o,$(TEST_PLAIN_OPTS),$(o)-pie $(o)-nopie)
TEST_PLAIN_CFLAGS = $(filter-out -O%,$(CFLAGS_BASE)) -$(firstword $(subst -, ,$(1)))
TEST_PLAIN_PIE_pie := -fPIE
TEST_PLAIN_PIE_nopie := -fno-pie
TEST_PLAIN_LDPIE_pie := -pie
TEST_PLAIN_LDPIE_nopie := -no-pie
# The functions the test patches modify, by file: tests/lib/plain-syms.sh
# checks that -O2/-O3 kept each under its name, not inlined, not cloned.
TEST_PLAIN_SYMS_target := cmdline_show meminfo_show syscall_getpid \
	console_loglevel_show local_helper
TEST_PLAIN_SYMS_libtest_klp_callbacks_mod.so := mod_show mod_first_result
TEST_PLAIN_SYMS_libtest_klp_callbacks_busy.so := busymod_work_func

define TEST_PLAIN_RULE
$(B)/tests/obj/plain/$(1)/%.o: tests/target/%.c $(TEST_TARGET_DEPS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(call TEST_PLAIN_CFLAGS,$(1)) \
		$$(TEST_PLAIN_PIE_$(lastword $(subst -, ,$(1)))) -c $$< -o $$@

$(B)/tests/plain/$(1)/target: $(TEST_TARGET_SRC:tests/target/%.c=$(B)/tests/obj/plain/$(1)/%.o) \
		tests/lib/plain-syms.sh
	@mkdir -p $$(dir $$@)
	$$(CC) $$(TEST_PLAIN_LDPIE_$(lastword $(subst -, ,$(1)))) $$(filter %.o,$$^) \
		$$(TEST_TARGET_LDLIBS) -o $$@
	@sh tests/lib/plain-syms.sh $$@ $$(TEST_PLAIN_SYMS_$$(notdir $$@))

$(B)/tests/plain/$(1)/lib%.so: tests/target/%.c $(TEST_TARGET_DEPS) tests/lib/plain-syms.sh
	@mkdir -p $$(dir $$@)
	$$(CC) $$(call TEST_PLAIN_CFLAGS,$(1)) -fPIC -shared \
		-Wl,-soname,$$(notdir $$@) $$< $$(TEST_TARGET_LDLIBS) -o $$@
	@sh tests/lib/plain-syms.sh $$@ $$(TEST_PLAIN_SYMS_$$(notdir $$@))

$(B)/tests/plain/$(1)/patches:
	@mkdir -p $$(dir $$@)
	ln -sfn ../../patches $$@
endef
$(foreach v,$(TEST_PLAIN_VARIANTS),$(eval $(call TEST_PLAIN_RULE,$(v))))

# The target's libraries (the kernel tests' target modules).
TEST_LIB_NAMES := libtest_klp_callbacks_mod.so libtest_klp_callbacks_busy.so
TEST_LIBS := $(TEST_LIB_NAMES:%=$(B)/tests/%)
TEST_PLAIN := $(foreach v,$(TEST_PLAIN_VARIANTS),$(B)/tests/plain/$(v)/target \
	$(B)/tests/plain/$(v)/patches $(TEST_LIB_NAMES:%=$(B)/tests/plain/$(v)/%))

$(B)/tests/lib%.so: tests/target/%.c $(TEST_TARGET_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(TEST_SITE_FLAGS_pad) -fPIC -shared \
		-Wl,-soname,$(notdir $@) $< $(TEST_TARGET_LDLIBS) -o $@

# Test patches. Their uklp/klp symbols are left undefined and bind to the
# runtime already loaded in the target. KBUILD_MODNAME is the patch name.
TEST_PATCH_DEPS := tests/patches/test_klp.h include/uklp/livepatch.h
TEST_PATCH_NAMES := $(basename $(notdir $(wildcard tests/patches/test_klp_*.c)))

$(B)/tests/patches/%.so: tests/patches/%.c $(TEST_PATCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared -DKBUILD_MODNAME='"$*"' $< -o $@

$(B)/tests/patches/test_klp_state3.so: tests/patches/test_klp_state2.c

# Build variants stand for module parameters: the patch keeps its name (so
# the transcripts keep the kernel's), the directory names the variant.
TEST_PATCH_DEFS_replace := -DREPLACE=1
TEST_PATCH_DEFS_enodev := -DPRE_PATCH_RET=-ENODEV
TEST_PATCH_DEFS_enodev-coming := -DPRE_PATCH_RET_COMING=-ENODEV
TEST_PATCH_DEFS_ambiguous := -DSYMPOS=0
TEST_PATCH_DEFS_sympos3 := -DSYMPOS=3

TEST_PATCH_VARIANTS := \
	replace/test_klp_atomic_replace \
	replace/test_klp_callbacks_demo2 \
	enodev/test_klp_callbacks_demo \
	enodev-coming/test_klp_callbacks_demo \
	ambiguous/test_klp_local \
	sympos3/test_klp_local

define TEST_PATCH_VARIANT_RULE
$(B)/tests/patches/$(1)/%.so: tests/patches/%.c $(TEST_PATCH_DEPS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) -fPIC -shared -DKBUILD_MODNAME='"$$*"' \
		$$(TEST_PATCH_DEFS_$(1)) $$< -o $$@
endef
$(foreach v,$(sort $(dir $(TEST_PATCH_VARIANTS))),\
	$(eval $(call TEST_PATCH_VARIANT_RULE,$(v:/=))))

TEST_PATCHES := $(TEST_PATCH_NAMES:%=$(B)/tests/patches/%.so) \
	$(TEST_PATCH_VARIANTS:%=$(B)/tests/patches/%.so)

tests-build: $(UNIT_BIN) $(TEST_TARGETS) $(TEST_LIBS) $(TEST_PLAIN) $(TEST_PATCHES)
