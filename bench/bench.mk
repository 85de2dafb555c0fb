# bench/: benchmarks printing comparable figures (run by `make bench`).
BENCHES +=
