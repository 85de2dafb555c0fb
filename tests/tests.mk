# tests/: unit tests (cmocka, one binary per module), integration tests
# (shell scripts starting real daemons in a temporary directory).

UNIT_TEST_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_TESTS += $(patsubst tests/unit/%.c,bin/tests/%,$(UNIT_TEST_SRCS))

# Each unit test links the module archives, never a main.o; the linker
# pulls in only the objects the test uses.
bin/tests/test-%: $(BUILD)/tests/unit/test-%.o $(SCHEDD_LIB) $(STARTD_LIB) $(COMMON_LIB)
	$(call link_program,-lcmocka -lcap-ng)

INTEGRATION_TESTS += $(sort $(wildcard tests/integration/test-*.sh))

# The restorer's chunk names (built freestanding, as in bin/ckpt-restore)
# against the server's.
bin/tests/test-restore-hash: $(BUILD)/tests/unit/test-restore-hash.o $(COMMON_LIB) $(BUILD)/libckpt/crc32c.o \
		$(BUILD)/libckpt-restore/restore/chunk-hash.o $(BUILD)/libckpt-restore/restore/chunk-hash-avx2.o
	$(call link_program,-lcmocka)

# The checkpoint server's formats need the CRC32C of libckpt.
bin/tests/test-ckpt-format: $(BUILD)/tests/unit/test-ckpt-format.o $(COMMON_LIB) $(BUILD)/libckpt/crc32c.o
	$(call link_program,-lcmocka)

# The checkpoint server's readahead against its real store.
bin/tests/test-ckpt-readahead: $(BUILD)/tests/unit/test-ckpt-readahead.o $(CKPT_SERVER_LIB) $(COMMON_LIB) \
		$(BUILD)/libckpt/crc32c.o
	$(call link_program,-lcmocka)
