#!/bin/bash
# bench/reconnect.sh — a schedd restart under running jobs
# (docs/running-jobs.md, "Schedd restarts"):
#   reconnection: SLOTS (50) jobs running on one real startd, the schedd
#   SIGKILLed and started again; the time from its start to the last job
#   reconnected (its new shadow's "reconnected" event)   target <= 5 s
# The median of RUNS runs (default 3), printed beside its target.  The
# jobs must not notice: each run also checks that every one of them is
# still the process it was before the kill.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
. "$ROOT/bench/lib.sh"
RUNS=${RUNS:-3}
SLOTS=${SLOTS:-50}
TMP=$(mktemp -d "${BENCH_TMP:-/tmp}/kite-bench-reconnect.XXXXXX")
chmod 755 "$TMP"
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap 'stop; rm -rf "$TMP"' EXIT
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
wait_until() { # SECONDS COMMAND…
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -lt $end ] || { echo "bench/reconnect.sh: timed out: $*" >&2; exit 1; }
		sleep 0.05
	done
}

start_schedd() {
	"$BIN/schedd" --config "$1/schedd.yaml" --state-dir "$1" 2>>"$1/log" &
	schedd_pid=$!
	pids+=($schedd_pid)
}

# One run; prints the seconds from the new schedd's start to the last
# reconnection.
run() {
	local d=$TMP/run$1
	mkdir -p "$d/s" "$d/ws"
	printf 'listen: 127.0.0.1:0\nclaim_poll_interval: 1s\n' >"$d/s/schedd.yaml"
	start_schedd "$d/s"
	wait_until 10 test -s "$d/s/schedd.addr"
	local addr
	addr=$(cat "$d/s/schedd.addr")
	# the restarted schedd listens where the startd advertises
	printf 'listen: %s\nclaim_poll_interval: 1s\n' "$addr" >"$d/s/schedd.yaml"
	start_idle_startd "$d/ws" "$addr"
	export KITE_SCHEDD=$d/s/schedd.sock
	printf 'executable: /bin/sleep\narguments: ["600"]\ncheckpoint: none\nqueue: %d\n' "$SLOTS" >"$d/job.yaml"
	(cd "$d" && "$BIN/submit" job.yaml >/dev/null)
	running() { [ "$(grep -c ' started as ' "$d/ws/log")" -ge "$SLOTS" ]; }
	wait_until 60 running
	local before
	before=$(grep ' started as ' "$d/ws/log" | sed 's/.*(pid \([0-9]*\)).*/\1/' | sort)
	kill -9 "$schedd_pid"
	wait "$schedd_pid" 2>/dev/null || true
	disconnected() { [ "$(grep -c 'lost its schedd' "$d/ws/log")" -ge "$SLOTS" ]; }
	wait_until 30 disconnected
	local t0 t1
	t0=$(date +%s.%N)
	start_schedd "$d/s"
	reconnected() { [ "$(grep -c 'reconnected by a new shadow' "$d/ws/log")" -ge "$SLOTS" ]; }
	wait_until 120 reconnected
	t1=$(date +%s.%N)
	local after alive=0
	after=$(grep 'reconnected by a new shadow' "$d/ws/log" | sed 's/.*(pid \([0-9]*\)).*/\1/' | sort)
	for p in $before; do [ -d "/proc/$p" ] && alive=$((alive + 1)); done
	if [ "$before" != "$after" ] || [ "$alive" -ne "$SLOTS" ]; then
		echo "bench/reconnect.sh: the jobs noticed the restart ($alive of $SLOTS still running)" >&2
		exit 1
	fi
	stop
	rm -rf "$d"
	echo "$t1 - $t0" | bc -l
}

echo "-- reconnection ($SLOTS running jobs, schedd SIGKILLed and restarted, median of $RUNS)"
times=()
for r in $(seq "$RUNS"); do times+=("$(run "$r")"); done
t=$(printf '%s\n' "${times[@]}" | median)
printf '%-52s %8.2f s        target <= 5 s     %s\n' "restart to the last of $SLOTS jobs reconnected:" "$t" \
	"$(echo "$t <= 5" | bc -l | sed 's/1/MET/;s/0/MISSED/')"
printf '   (runs: %s)\n' "$(printf '%.2f ' "${times[@]}")"
