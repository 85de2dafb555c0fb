# schedd/: the durable job queue (SQLite), client requests, and later the
# collector, negotiator and agent roles.

SCHEDD_SRCS := $(filter-out schedd/main.c,$(wildcard schedd/*.c))
SCHEDD_OBJS := $(SCHEDD_SRCS:%.c=$(BUILD)/%.o)
SCHEDD_LIB  := $(BUILD)/libschedd.a

$(SCHEDD_LIB): $(SCHEDD_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

bin/schedd: $(BUILD)/schedd/main.o $(SCHEDD_LIB) $(COMMON_LIB)
	$(call link_program)

PROGRAMS += bin/schedd
