# shadow/: one process per running job, started by the schedd; see
# docs/running-jobs.md.  Every file but main.c goes into an archive.

SHADOW_SRCS := $(filter-out shadow/main.c,$(wildcard shadow/*.c))
SHADOW_OBJS := $(SHADOW_SRCS:%.c=$(BUILD)/%.o)
SHADOW_LIB  := $(BUILD)/libshadow.a

$(SHADOW_LIB): $(SHADOW_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

bin/shadow: $(BUILD)/shadow/main.o $(SHADOW_LIB) $(COMMON_LIB)
	$(call link_program)

PROGRAMS += bin/shadow
