# libckpt/: transparent checkpoint/restart (docs/ckpt.md).
#
#   lib/libckpt.so, lib/libckpt.a   the runtime that lives inside a job
#                                   (libckpt/runtime + crc32c): no GLib, no
#                                   sanitizers, PIC, hidden symbols except
#                                   the kite_ckpt_* API.
#   bin/ckpt-restore                the freestanding restorer: static, no
#                                   libc, linked at 0x600000000000.
#   bin/ckpt                        the command (GLib), run/now/restart/inspect.
#   bin/ckpt-cc                     compiler wrapper for relinked programs.
#   bin/tests/programs/*            zdtm-style test jobs (tests/programs).

CKPT_RT_SRCS := $(wildcard libckpt/runtime/*.c) libckpt/crc32c.c libckpt/xxhash64.c libckpt/elf-build-id.c
CKPT_RT_OBJS := $(CKPT_RT_SRCS:libckpt/%.c=$(BUILD)/libckpt-pic/%.o)
CKPT_RT_AOBJS := $(CKPT_RT_SRCS:libckpt/%.c=$(BUILD)/libckpt-a/%.o) $(BUILD)/libckpt-a/relinked/relinked.o
CKPT_RT_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -I. -Iinclude -fPIC \
	-fvisibility=hidden -fno-stack-protector -MMD -MP

$(BUILD)/libckpt-pic/%.o: libckpt/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CKPT_RT_CFLAGS) -DKITE_RT_PRELOAD -c -o $@ $<

$(BUILD)/libckpt-a/%.o: libckpt/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CKPT_RT_CFLAGS) -c -o $@ $<

lib/libckpt.so: $(CKPT_RT_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-z,noexecstack -Wl,-soname,libckpt.so -o $@ $^

lib/libckpt.a: $(CKPT_RT_AOBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

CKPT_RESTORE_SRCS := libckpt/restore/restorer.c libckpt/restore/restore-stream.c libckpt/restore/chunk-hash.c \
	libckpt/crc32c.c
CKPT_RESTORE_OBJS := $(CKPT_RESTORE_SRCS:libckpt/%.c=$(BUILD)/libckpt-restore/%.o)
CKPT_RESTORE_CFLAGS := -std=gnu11 $(WARN) -O2 -g -D_GNU_SOURCE -I. -Iinclude -ffreestanding \
	-fno-stack-protector -fPIE -fvisibility=hidden -fno-builtin -fno-tree-loop-distribute-patterns \
	-fcf-protection=none -MMD -MP

$(BUILD)/libckpt-restore/%.o: libckpt/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CKPT_RESTORE_CFLAGS) -c -o $@ $<

# the chunk hash again with AVX2 (chosen at run time by the CPU)
CKPT_RESTORE_OBJS += $(BUILD)/libckpt-restore/restore/chunk-hash-avx2.o
$(BUILD)/libckpt-restore/restore/chunk-hash-avx2.o: libckpt/restore/chunk-hash.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<  (AVX2)")
	$(Q)$(CC) $(CKPT_RESTORE_CFLAGS) -mavx2 -DRS_HASH_AVX2 -c -o $@ $<

bin/ckpt-restore: $(CKPT_RESTORE_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -static -nostdlib -no-pie -Wl,-Ttext-segment=0x600000000000 -Wl,-z,noexecstack \
		-Wl,--build-id -o $@ $^ -lgcc

CKPT_CMD_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard libckpt/cmd/*.c)) $(BUILD)/libckpt/crc32c.o \
	$(BUILD)/libckpt/elf-build-id.o $(BUILD)/libckpt/xxhash64.o

bin/ckpt: $(CKPT_CMD_OBJS) $(COMMON_LIB)
	$(call link_program)

bin/ckpt-cc: libckpt/ckpt-cc.sh
	@mkdir -p $(dir $@)
	$(Q)install -m 0755 $< $@

# Test jobs: plain C, no GLib.  Built by `make all` so tests can run them.
CKPT_TEST_PROGRAMS := $(patsubst tests/programs/%.c,bin/tests/programs/%,$(filter-out tests/programs/api.c,$(wildcard tests/programs/*.c)))

# Never sanitized (SANITIZE=1 too): ASan's shadow reservations of many
# terabytes are not something to checkpoint.
CKPT_PROG_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -I. -Iinclude -MMD -MP

$(BUILD)/tests/programs/%.o: tests/programs/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CKPT_PROG_CFLAGS) -c -o $@ $<

bin/tests/programs/%: $(BUILD)/tests/programs/%.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< -lm -ldl -lpthread

# Relinked test jobs: the same sources through ckpt-cc, dynamic and static.
CKPT_RELINKED := $(patsubst %,bin/tests/programs/%.relinked,counter state api) \
	$(patsubst %,bin/tests/programs/%.static,counter api threads hugemem)

bin/tests/programs/%.relinked: tests/programs/%.c bin/ckpt-cc lib/libckpt.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CKPT-CC $@")
	$(Q)bin/ckpt-cc $(CC) -std=gnu11 -O2 -g -D_GNU_SOURCE -o $@ $< -lm -ldl -lpthread

bin/tests/programs/%.static: tests/programs/%.c bin/ckpt-cc lib/libckpt.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CKPT-CC $@")
	$(Q)bin/ckpt-cc $(CC) -std=gnu11 -O2 -g -D_GNU_SOURCE -static -o $@ $< -lm -lpthread

PROGRAMS += bin/ckpt bin/ckpt-restore bin/ckpt-cc
TEST_HELPERS += $(CKPT_RELINKED)
LIBRARIES += lib/libckpt.so lib/libckpt.a
TEST_HELPERS += $(CKPT_TEST_PROGRAMS)

# Everything of libckpt's, for building it alone: make -j2 ckpt-all
.PHONY: ckpt-all
ckpt-all: bin/ckpt bin/ckpt-restore bin/ckpt-cc lib/libckpt.so lib/libckpt.a $(CKPT_TEST_PROGRAMS) $(CKPT_RELINKED)

# The image unit test needs the reader and the checksums, not the schedd.
bin/tests/test-ckpt-image: $(BUILD)/tests/unit/test-ckpt-image.o $(BUILD)/libckpt/cmd/ckpt-image.o \
		$(BUILD)/libckpt/crc32c.o $(BUILD)/libckpt/xxhash64.o
	$(call link_program,-lcmocka)
