# common/: code shared by every program — wire protocol, expressions and
# attribute sets, job files, config, auth, logging.  Built into one static
# archive that every program and unit test links.

COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/%.o)
COMMON_LIB  := $(BUILD)/libkitecommon.a

$(COMMON_LIB): $(COMMON_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# link_program: link $@ from its objects and archives (archives last).
define link_program
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(DEPS_LIBS) $(1)
endef
