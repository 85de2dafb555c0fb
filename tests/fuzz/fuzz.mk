# tests/fuzz/: libFuzzer targets over the parsers that read what users
# and peers send (see tests/fuzz/README.md).  They are built with clang,
# AddressSanitizer and UBSan in their own object tree (build/fuzz), so
# they never mix with the gcc build.
#
#   make fuzz            build the targets and run each for FUZZ_SECONDS (10)
#   make fuzz FUZZ_SECONDS=600 FUZZ_ONLY=fuzz-expr    a long run of one

FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -D_GNU_SOURCE \
	-I. -Icommon -Iinclude -DPACKAGE_VERSION_STRING=\"$(KITE_VERSION)\" $(DEPS_CFLAGS) -MMD -MP
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz-*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/bin/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(COMMON_SRCS) libckpt/crc32c.c)

.PHONY: fuzz fuzz-build

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libkitefuzz.a: $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/bin/%: $(FUZZ_BUILD)/tests/fuzz/%.o $(FUZZ_BUILD)/libkitefuzz.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(DEPS_LIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)./tests/fuzz/run.sh $(FUZZ_TARGETS)

# wire-live: well-typed garbage for running daemons (test-wire-live.sh);
# an ordinary program of the gcc build.
bin/tests/wire-live: $(BUILD)/tests/fuzz/wire-live.o $(COMMON_LIB)
	$(call link_program,)
TEST_HELPERS += bin/tests/wire-live
