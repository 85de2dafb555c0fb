# ckpt_server/: the checkpoint server (docs/ckpt-server.md).  Every file
# but main.c goes into an archive that the unit tests link.

CKPT_SERVER_SRCS := $(filter-out ckpt_server/main.c,$(wildcard ckpt_server/*.c))
CKPT_SERVER_OBJS := $(CKPT_SERVER_SRCS:%.c=$(BUILD)/%.o)
CKPT_SERVER_LIB  := $(BUILD)/libckptserver.a

$(CKPT_SERVER_LIB): $(CKPT_SERVER_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

bin/ckpt_server: $(BUILD)/ckpt_server/main.o $(CKPT_SERVER_LIB) $(COMMON_LIB) $(BUILD)/libckpt/crc32c.o
	$(call link_program)

PROGRAMS += bin/ckpt_server
