# submit/: the user's and admin's commands — submit, q, pool.  Code shared
# by the three commands lives in submit/cli-*.c.

CLI_SRCS := $(wildcard submit/cli-*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)

bin/submit: $(BUILD)/submit/submit.o $(CLI_OBJS) $(COMMON_LIB)
	$(call link_program)
bin/q: $(BUILD)/submit/q.o $(CLI_OBJS) $(COMMON_LIB)
	$(call link_program)
bin/pool: $(BUILD)/submit/pool.o $(BUILD)/submit/pool-query.o $(CLI_OBJS) $(COMMON_LIB)
	$(call link_program)

PROGRAMS += bin/submit bin/q bin/pool
