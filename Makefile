# Kite — one make graph for the whole tree.
#
# Each directory contributes a .mk fragment that appends to PROGRAMS,
# LIBRARIES, UNIT_TESTS and friends; everything is built from here so that
# `make -j` sees the whole dependency graph (notmuch style).
#
#   make            build every program into bin/ and library into lib/
#   make check      install missing packages, build, run unit + integration tests
#   make demo       install missing packages, build, run the demo pool
#   make bench      run the benchmarks under bench/
#   make fuzz       run the fuzz targets in tests/fuzz/ (FUZZ_SECONDS each; part of check)
#   make install PREFIX=/usr/local
#   V=1             show the commands
#   SANITIZE=1      build with AddressSanitizer + UndefinedBehaviorSanitizer
#   TEST_WRAPPER=valgrind   run unit tests under a wrapper

PREFIX     ?= /usr/local
KITE_VERSION := 0.1.0
CC         ?= gcc
PKG_CONFIG ?= pkg-config
TEST_WRAPPER ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif

# SANITIZE builds live in their own object tree so that switching back and
# forth never links instrumented and plain objects together.
ifeq ($(SANITIZE),1)
BUILD := build/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD := build/plain
SAN_FLAGS :=
endif

# bin/ and lib/ are shared by both builds: when the mode changes, drop them
# so that every program is relinked from the right objects.
LAST_BUILD := $(shell cat build/mode 2>/dev/null)
ifneq ($(LAST_BUILD),$(BUILD))
$(shell rm -rf bin lib; mkdir -p build; echo $(BUILD) > build/mode)
endif

DEPS_PKGS := glib-2.0 gio-2.0 gio-unix-2.0 yaml-0.1 sqlite3
DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS_PKGS) 2>/dev/null)
DEPS_LIBS   := $(shell $(PKG_CONFIG) --libs $(DEPS_PKGS) 2>/dev/null) -lm

WARN := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(SAN_FLAGS) -D_GNU_SOURCE \
	-I. -Icommon -Iinclude -DPACKAGE_VERSION_STRING=\"$(KITE_VERSION)\" $(DEPS_CFLAGS) -MMD -MP
ALL_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)

PROGRAMS :=
LIBRARIES :=
UNIT_TESTS :=
INTEGRATION_TESTS :=
BENCHES :=
CLEAN_FILES :=

.PHONY: all check unit integration demo bench install clean indent deps
# Keep every intermediate object (test objects are otherwise deleted).
.SECONDARY:
all:

include common/common.mk
include schedd/schedd.mk
include shadow/shadow.mk
include startd/startd.mk
include ckpt_server/ckpt_server.mk
include libckpt/libckpt.mk
include submit/submit.mk
include tests/tests.mk
include tests/fuzz/fuzz.mk
include bench/bench.mk
include docs/docs.mk

all: $(PROGRAMS) $(LIBRARIES) $(UNIT_TESTS) $(TEST_HELPERS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS_$(subst /,_,$(dir $<))) -c -o $@ $<

# Install missing Debian packages first (does nothing when all are present).
deps:
	$(Q)./scripts/setup-deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit integration
	$(Q)$(MAKE) --no-print-directory fuzz

unit: $(UNIT_TESTS)
	$(Q)./tests/run-unit.sh $(TEST_WRAPPER) -- $(UNIT_TESTS)

integration: all
	$(Q)./tests/run-integration.sh $(INTEGRATION_TESTS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./scripts/demo.sh

bench: all $(BENCHES)
	$(Q)./bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/kite
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin
	$(if $(LIBRARIES),install -m 0644 $(LIBRARIES) $(DESTDIR)$(PREFIX)/lib)
	$(if $(wildcard include/kite/*.h),install -m 0644 $(wildcard include/kite/*.h) $(DESTDIR)$(PREFIX)/include/kite)

indent:
	$(Q)clang-format -i $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf build bin lib $(CLEAN_FILES)

-include $(shell find build -name '*.d' 2>/dev/null)
