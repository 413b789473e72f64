# bench.mk - the benchmark programs (included by the top Makefile, which
# defines B, CC, CFLAGS_BASE and LIBS; `make bench` runs bench/run.sh).
#
#   $(B)/bench/callcost-pad      bench_fn.c with pad sites (16,14)
#   $(B)/bench/callcost-nop      bench_fn.c with nop sites (5,0)
#   $(B)/bench/bench_patch.so    the patch replacing bench_fn (both programs)
#
# Only bench_fn.c gets the site flags: the loop and the rest of the program
# have no patchable entries. The programs link libuklp.so (rpath to $(B)).

.PHONY: bench-build

BENCH_SITE_FLAGS_pad := -fpatchable-function-entry=16,14
BENCH_SITE_FLAGS_nop := -fpatchable-function-entry=5,0
BENCH_DEPS := bench/bench.h include/uklp/control.h include/uklp/livepatch.h

$(B)/bench/obj/%/bench_fn.o: bench/bench_fn.c $(BENCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(BENCH_SITE_FLAGS_$*) -c $< -o $@

$(B)/bench/obj/%/callcost.o: bench/callcost.c $(BENCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -DBENCH_SITE='"$*"' -c $< -o $@

$(B)/bench/callcost-%: $(B)/bench/obj/%/callcost.o $(B)/bench/obj/%/bench_fn.o $(B)/libuklp.so
	$(CC) $(B)/bench/obj/$*/callcost.o $(B)/bench/obj/$*/bench_fn.o \
		-L$(B) -luklp -Wl,-rpath,$(abspath $(B)) $(LIBS) -o $@

$(B)/bench/bench_patch.so: bench/bench_patch.c $(BENCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fPIC -shared $< -o $@

bench-build: $(B)/bench/callcost-pad $(B)/bench/callcost-nop $(B)/bench/bench_patch.so
