#!/bin/bash
# bench/queue.sh — the job queue's figures (issue 2):
#   submit 10,000 procs in one cluster      target: acknowledged in <= 1 s
#   submit 1,000 clusters of 10 procs       (jobs per second, one submit each)
#   q over 100,000 jobs                     target: <= 0.5 s
# Each figure is the median of RUNS runs (default 5), printed beside its
# target.  A real schedd in a temporary directory; real submit and q.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
RUNS=${RUNS:-5}
TMP=$(mktemp -d /tmp/kite-bench.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

start() {
	[ -n "$pid" ] && { kill $pid; wait $pid 2>/dev/null || true; }
	rm -rf "$TMP/s" && mkdir -p "$TMP/s"
	echo "listen: ''" >"$TMP/s/schedd.yaml"
	"$BIN/schedd" --config "$TMP/s/schedd.yaml" --state-dir "$TMP/s" 2>"$TMP/s/log" &
	pid=$!
	for _ in $(seq 200); do [ -S "$TMP/s/schedd.sock" ] && break; sleep 0.02; done
	export KITE_SCHEDD=$TMP/s/schedd.sock
}
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

cd "$TMP"
printf 'executable: /bin/true\narguments: [run, "$(Process)"]\noutput: out.$(Process)\nqueue: 10000\n' >big.yaml
printf 'executable: /bin/true\narguments: [run, "$(Process)"]\nqueue: 10\n' >small.yaml

# 1. 10,000 procs in one cluster, each run on an empty queue.
times=()
for r in $(seq "$RUNS"); do
	start
	t0=$(now); "$BIN/submit" big.yaml >/dev/null; t1=$(now)
	times+=("$(echo "$t1 - $t0" | bc -l)")
done
t=$(printf '%s\n' "${times[@]}" | median)
printf '%-44s %8.3f s  (%6.0f jobs/s)   target <= 1 s   %s\n' "submit 10,000 procs, one cluster:" "$t" \
	"$(echo "10000 / $t" | bc -l)" "$(echo "$t <= 1" | bc -l | sed 's/1/MET/;s/0/MISSED/')"

# 2. 1,000 clusters of 10 (one submit command each).
times=()
for r in $(seq "$RUNS"); do
	start
	t0=$(now)
	for _ in $(seq 1000); do "$BIN/submit" small.yaml >/dev/null; done
	t1=$(now)
	times+=("$(echo "$t1 - $t0" | bc -l)")
done
t=$(printf '%s\n' "${times[@]}" | median)
printf '%-44s %8.3f s  (%6.0f jobs/s)   (no target; %.1f ms per submit command)\n' "submit 1,000 clusters of 10:" "$t" \
	"$(echo "10000 / $t" | bc -l)" "$(echo "$t" | bc -l)"

# 3. q over 100,000 jobs.
start
for _ in $(seq 10); do "$BIN/submit" big.yaml >/dev/null; done
n=$("$BIN/q" --all | tail -1)
times=()
for r in $(seq "$RUNS"); do
	t0=$(now); "$BIN/q" --all >/dev/null; t1=$(now)
	times+=("$(echo "$t1 - $t0" | bc -l)")
done
t=$(printf '%s\n' "${times[@]}" | median)
printf '%-44s %8.3f s                       target <= 0.5 s %s\n' "q over 100,000 jobs:" "$t" \
	"$(echo "$t <= 0.5" | bc -l | sed 's/1/MET/;s/0/MISSED/')"
echo "   ($n)"
times=()
for r in $(seq "$RUNS"); do
	t0=$(now); "$BIN/q" --all -c 'ProcId % 1000 == 0' >/dev/null; t1=$(now)
	times+=("$(echo "$t1 - $t0" | bc -l)")
done
t=$(printf '%s\n' "${times[@]}" | median)
printf '%-44s %8.3f s                       (no target; evaluates every full ad)\n' "q --constraint over 100,000 jobs:" "$t"
