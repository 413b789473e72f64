# bench.mk - the benchmark programs (included by the top Makefile, which
# defines B, CC, CFLAGS_BASE and LIBS; `make bench` runs bench/run.sh).
#
#   $(B)/bench/callcost-pad      bench_fn.c with pad sites (16,14)
#   $(B)/bench/callcost-nop      bench_fn.c with nop sites (5,0)
#   $(B)/bench/callcost-prologue bench_fn.c with no site flags (prologue
#                                sites, as in a distribution's binaries)
#   $(B)/bench/bench_patch.so    the patch replacing bench_fn (both programs)
#
# Only bench_fn.c gets the site flags: the loop and the rest of the program
# have no patchable entries. The programs link libuklp.so (rpath to $(B)).

.PHONY: bench-build

BENCH_SITES := pad nop prologue
BENCH_SITE_FLAGS_pad := -fpatchable-function-entry=16,14
BENCH_SITE_FLAGS_nop := -fpatchable-function-entry=5,0
BENCH_SITE_FLAGS_prologue :=
# A fixed load address for both programs, natively and under valgrind: a
# nop site's jump goes to a stub 50 MB to 1.9 GB below the function (its
# rel32 is made of one-byte instructions, see runtime/arch/x86_64/site.c),
# and valgrind loads every PIE at 0x108000, where there is no room below.
BENCH_LDFLAGS := -no-pie -Wl,-Ttext-segment=0x20000000
BENCH_DEPS := bench/bench.h include/uklp/control.h include/uklp/livepatch.h

define BENCH_SITE_RULES
$(B)/bench/obj/$(1)/bench_fn.o: bench/bench_fn.c $(BENCH_DEPS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) $(BENCH_SITE_FLAGS_$(1)) -c $$< -o $$@

$(B)/bench/obj/$(1)/callcost.o: bench/callcost.c $(BENCH_DEPS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) -DBENCH_SITE='"$(1)"' -c $$< -o $$@

$(B)/bench/callcost-$(1): $(B)/bench/obj/$(1)/callcost.o $(B)/bench/obj/$(1)/bench_fn.o $(B)/libuklp.so
	$$(CC) $(B)/bench/obj/$(1)/callcost.o $(B)/bench/obj/$(1)/bench_fn.o \
		$$(BENCH_LDFLAGS) -L$$(B) -luklp -Wl,-rpath,$$(abspath $$(B)) $$(LIBS) -o $$@
endef
$(foreach s,$(BENCH_SITES),$(eval $(call BENCH_SITE_RULES,$(s))))

$(B)/bench/bench_patch.so: bench/bench_patch.c $(BENCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared $< -o $@

bench-build: $(BENCH_SITES:%=$(B)/bench/callcost-%) $(B)/bench/bench_patch.so
