# bench/: benchmarks printing comparable figures (run by `make bench`).

# The negotiation figure links the schedd's and startd's real code
# (bench/negotiate.c); bench/pool.sh runs it.
bin/bench/negotiate: $(BUILD)/bench/negotiate.o $(SCHEDD_LIB) $(STARTD_LIB) $(COMMON_LIB)
	$(call link_program,-lcap-ng)

BENCHES += bin/bench/negotiate
