# bench/: benchmarks printing comparable figures (run by `make bench`).
BENCHES += bin/bench/ckpt-floor

# bench/ckpt.sh measures this machine's own floors beside libckpt's figures
bin/bench/ckpt-floor: bench/ckpt-floor.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -std=gnu11 $(WARN) -O2 -pthread -o $@ $<

# The negotiation figure links the schedd's and startd's real code
# (bench/negotiate.c); bench/pool.sh runs it.
bin/bench/negotiate: $(BUILD)/bench/negotiate.o $(SCHEDD_LIB) $(STARTD_LIB) $(COMMON_LIB)
	$(call link_program,-lcap-ng)

BENCHES += bin/bench/negotiate
