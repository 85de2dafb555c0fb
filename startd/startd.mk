# startd/: the execute-host daemon — machine attributes, owner activity
# sources, the owner policy, slots, advertising to the schedd, claims
# and jobs (sandbox.c runs them without privileges via libcap-ng).  Every
# file but main.c goes into an archive that the unit tests link.

STARTD_SRCS := $(filter-out startd/main.c,$(wildcard startd/*.c))
STARTD_OBJS := $(STARTD_SRCS:%.c=$(BUILD)/%.o)
STARTD_LIB  := $(BUILD)/libstartd.a

$(STARTD_LIB): $(STARTD_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

bin/startd: $(BUILD)/startd/main.o $(STARTD_LIB) $(COMMON_LIB) $(BUILD)/libckpt/crc32c.o
	$(call link_program,-lcap-ng)

PROGRAMS += bin/startd
