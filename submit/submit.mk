# submit/: the user's and admin's commands — submit, q, pool.  Code shared
# by the three commands lives in submit/cli-*.c.

CLI_SRCS := $(wildcard submit/cli-*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)

bin/submit: $(BUILD)/submit/submit.o $(CLI_OBJS) $(COMMON_LIB)
	$(call link_program)
bin/q: $(BUILD)/submit/q.o $(CLI_OBJS) $(COMMON_LIB)
	$(call link_program)
# `pool glidein` (submit/pool-glidein.c, glidein-*.c) reaches hosts over
# SSH with libssh2 (common/ssh-session.c); only pool links it.
GLIDEIN_HOST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard submit/glidein-*.c))
GLIDEIN_OBJS := $(BUILD)/submit/pool-glidein.o $(GLIDEIN_HOST_OBJS)
SSH_LIBS := $(shell $(PKG_CONFIG) --libs libssh2 2>/dev/null)

bin/pool: $(BUILD)/submit/pool.o $(BUILD)/submit/pool-query.o $(BUILD)/submit/pool-ckpt.o $(BUILD)/submit/pool-userprio.o $(GLIDEIN_OBJS) $(CLI_OBJS) $(COMMON_LIB) $(BUILD)/libckpt/crc32c.o
	$(call link_program,$(SSH_LIBS))

PROGRAMS += bin/submit bin/q bin/pool

# The glidein unit test needs the host-side objects and libssh2.
bin/tests/test-glidein: $(BUILD)/tests/unit/test-glidein.o $(GLIDEIN_HOST_OBJS) $(COMMON_LIB)
	$(call link_program,-lcmocka $(SSH_LIBS))
