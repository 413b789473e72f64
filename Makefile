# uklp - live patching for running Linux processes.
# make            build build/libuklp.so, build/uklp and the samples
# make check      build and run every test; last line "N passed, N failed"
# make demo       the live demo (README)
# make bench      benchmarks -> bench/RESULTS.md
# make install    PREFIX=/usr/local DESTDIR=
# make SAN=1 ...  the same with AddressSanitizer + UBSan (into build-san/)

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
SAN ?=

ifeq ($(SAN),1)
B := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B := build
SANFLAGS :=
endif

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS_BASE := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -Iinclude -Icommon -Iruntime -Iruntime/arch/x86_64
# The runtime lives inside other processes: no sanitizer there (ASan must be
# first in the link order of a program; an injected library cannot be).
RT_CFLAGS := $(CFLAGS_BASE) -fPIC -fvisibility=hidden
TOOL_CFLAGS := $(CFLAGS_BASE) $(SANFLAGS)
# Capstone (Debian libcapstone-dev) decodes prologues (common/x86reloc.c).
CAPSTONE_LIBS := $(shell pkg-config --libs capstone 2>/dev/null || echo -lcapstone)
LIBS := -lelf -lunwind -lunwind-x86_64 -ldl -lpthread $(CAPSTONE_LIBS)

COMMON_SRC := $(wildcard common/*.c)
RT_SRC := $(wildcard runtime/*.c runtime/arch/x86_64/*.c)
RT_ASM := $(wildcard runtime/arch/x86_64/*.S)

COMMON_PIC_OBJ := $(COMMON_SRC:%.c=$(B)/pic/%.o)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/obj/%.o)
RT_OBJ := $(RT_SRC:%.c=$(B)/pic/%.o) $(RT_ASM:%.S=$(B)/pic/%.o)

TOOL_SRC := $(wildcard tool/*.c)
TOOL_OBJ := $(TOOL_SRC:%.c=$(B)/obj/%.o)
TOOL_LIBS := -lunwind-ptrace -lunwind-x86_64 -lunwind -lelf -lpthread $(CAPSTONE_LIBS)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)

.PHONY: all deps check check-unit demo bench install clean format
all: deps $(B)/libuklp.so $(B)/libuklp-common.a $(B)/libuklp-common-pic.a $(B)/uklp tests-build samples-build

deps:
	@sh tests/lib/deps.sh build

$(B)/pic/%.o: %.c $(wildcard include/uklp/*.h common/*.h runtime/*.h runtime/arch/x86_64/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -c $< -o $@

$(B)/pic/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -c $< -o $@

$(B)/obj/%.o: %.c $(wildcard include/uklp/*.h common/*.h tool/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -Itool -c $< -o $@

# The command line tool (sanitizers under SAN=1). It finds libuklp.so next
# to itself, or in ../lib once installed.
$(B)/uklp: $(TOOL_OBJ) $(B)/libuklp-common.a
	$(CC) $(TOOL_CFLAGS) $(TOOL_OBJ) $(B)/libuklp-common.a $(TOOL_LIBS) -o $@

# The internal library shared by the runtime and the tool (DESIGN.md 1).
$(B)/libuklp-common-pic.a: $(COMMON_PIC_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libuklp-common.a: $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libuklp.so: $(RT_OBJ) $(B)/libuklp-common-pic.a
	$(CC) -shared -Wl,-z,defs -Wl,-soname,libuklp.so -Wl,--version-script=runtime/libuklp.map \
		$(RT_OBJ) $(B)/libuklp-common-pic.a $(LIBS) -o $@

include tests/tests.mk
include tests/system/system.mk
include tests/tool/tool.mk
include samples/samples.mk
include bench/bench.mk
include bench/tool/tool.mk
include bench/redis/redis.mk

check: all
	@sh tests/run.sh $(B)

# Only the unit tests (CI runs them again with SAN=1).
check-unit: all
	@sh tests/run.sh $(B) unit

demo: all
	@sh samples/demo.sh $(B)

bench: all
	@sh bench/run.sh $(B)

install: $(B)/libuklp.so $(B)/uklp
	install -d $(DESTDIR)$(PREFIX)/include/uklp $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0644 include/uklp/livepatch.h include/uklp/control.h $(DESTDIR)$(PREFIX)/include/uklp/
	install -m 0755 $(B)/libuklp.so $(DESTDIR)$(PREFIX)/lib/libuklp.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(B)/uklp $(DESTDIR)$(PREFIX)/bin/uklp
	install -m 0644 doc/uklp.1 $(DESTDIR)$(PREFIX)/share/man/man1/uklp.1
	sed -e 's|@PREFIX@|$(PREFIX)|g' uklp.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/uklp.pc

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san
