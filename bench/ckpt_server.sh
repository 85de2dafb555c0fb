#!/bin/bash
# bench/ckpt_server.sh: checkpoints through a ckpt_server on loopback
# (issue 4), server state and job directories in tmpfs, medians of RUNS
# runs.  Prints each figure beside its target.
#   RUNS=3 bench/ckpt_server.sh
#   ONLY="big many" ...   just those parts
#   BEFORE=DIR ...        also restore each image with the build in DIR
#                         (its bin/ and lib/, e.g. a copy made before a
#                         change), alternating: before/after in one run
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/bin
PROGS=$BIN/tests/programs
RUNS=${RUNS:-3}
FLOOR=$BIN/bench/ckpt-floor
# `make all` does not build the floor program (`make bench` does)
[ -x "$FLOOR" ] || make -C "$TOP" -s bin/bench/ckpt-floor >/dev/null || exit 1
D=$(mktemp -d /dev/shm/kite-ckpt-server-bench.XXXXXX)
trap 'for p in $(jobs -p); do kill -9 $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$D"' EXIT
for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null; done
cd "$D" || exit 1

. "$TOP/bench/lib.sh"
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else print a[int((NR+1)/2)]}'; }
fastest() { sort -n | head -1 | grep . || echo n/a; }
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir srv
echo "listen: 127.0.0.1:0" >srv/server.yaml
"$BIN/ckpt_server" --config srv/server.yaml --state-dir "$D/srv" 2>srv/log &
SP=$!
until [ -s srv/ckpt_server.addr ]; do sleep 0.01; done
SRV=$(cat srv/ckpt_server.addr)
export KITE_POOL_KEY_FILE=$D/srv/pool.key
# the server's anonymous memory (its own buffers; pack files mapped for
# reading count as file pages, not here), sampled through the run
( while kill -0 $SP 2>/dev/null; do awk '/RssAnon/ {print $2}' /proc/$SP/status 2>/dev/null; sleep 0.05; done ) >rss.txt &

# last commit's "SIZE bytes … the upload sent SENT bytes" from the server log
last_commit() { grep "committed image" srv/log | tail -1 | sed -n 's/.*: \([0-9]*\) bytes in [0-9]* chunks; the upload sent \([0-9]*\) bytes/\1 \2/p'; }

# one_big: prints "commit_ms sent_pct restart_ms verify_ms second_ms before_ms before_verify_ms"
one_big() {
	local dir=$D/big$RANDOM
	"$BIN/ckpt" run --server "$SRV" --dir "$dir" -- "$PROGS/bigmem" 1024 1 >out.txt 2>err.txt &
	local P=$!
	wait_for out.txt ready || return 1
	local s e
	s=$(now_ns); "$BIN/ckpt" now $P >/dev/null || return 1; e=$(now_ns)
	local commit_ms=$(( (e - s) / 1000000 ))
	kill -INT $P; wait_for out.txt dirtied
	s=$(now_ns); "$BIN/ckpt" now $P >/dev/null || return 1; e=$(now_ns)
	local second_ms=$(( (e - s) / 1000000 ))
	local size sent
	read -r size sent < <(last_commit)
	kill -9 $P; wait $P 2>/dev/null
	local restart_ms before_ms="n/a n/a"
	BIG_RUN=$((${BIG_RUN:-0} + 1))
	# with BEFORE, each build goes first in every other run (the first
	# restore follows the upload and the job's exit)
	if [ -n "${BEFORE:-}" ] && [ $((BIG_RUN % 2)) = 0 ]; then
		before_ms=$(restart_ms "$BEFORE/bin" "$dir") || return 1
	fi
	restart_ms=$(restart_ms "$BIN" "$dir") || return 1
	if [ -n "${BEFORE:-}" ] && [ $((BIG_RUN % 2)) = 1 ]; then
		before_ms=$(restart_ms "$BEFORE/bin" "$dir") || return 1
	fi
	"$BIN/ckpt" lease --caps "$dir/server.caps" delete >/dev/null
	rm -rf "$dir"
	# commit_ms pct restart_ms verify_ms second_ms before_ms before_verify_ms
	echo "$commit_ms $(awk -v a="$sent" -v b="$size" 'BEGIN {printf "%.2f", 100*a/b}') $restart_ms $second_ms $before_ms"
}

# restart_ms BINDIR DIR: "RESTART VERIFY": `ckpt restart DIR` (BINDIR's)
# to the program's restart callback, and the program's first pass over
# its restored memory (bigmem's check of every byte: memory restored
# lazily would be faulted in there), in ms
restart_ms() {
	: >err.txt
	: >out.txt
	local s=$(now_ns)
	"$1/ckpt" restart "$2" >>out.txt 2>>err.txt &
	local R=$!
	wait_for err.txt restarted_ns || return 1
	local r=$(sed -n 's/restarted_ns //p' err.txt | tail -1)
	local h0=$(now_ns)
	kill -HUP $R; wait_for out.txt "verify" || return 1
	local h1=$(now_ns)
	grep -q "verify ok" out.txt || { echo "restarted memory differs" >&2; return 1; }
	kill -TERM $R; wait $R 2>/dev/null
	echo "$(( (r - s) / 1000000 )) $(( (h1 - h0) / 1000000 ))"
}

# many N MIB: N jobs checkpoint at once; prints "wall_ms ok_count"
many() {
	local n=$1 mib=$2 i pids=() jobs=()
	for i in $(seq 1 "$n"); do
		"$BIN/ckpt" run --server "$SRV" --dir "$D/m$i" -- "$PROGS/bigmem" "$mib" >m$i.txt 2>/dev/null &
		jobs+=($!)
	done
	for i in $(seq 1 "$n"); do wait_for m$i.txt ready || return 1; done
	local s=$(now_ns) ok=0
	for i in $(seq 1 "$n"); do "$BIN/ckpt" now "${jobs[$((i - 1))]}" >/dev/null & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
	local e=$(now_ns)
	for p in "${jobs[@]}"; do kill -9 "$p"; wait "$p" 2>/dev/null; done
	echo "$(( (e - s) / 1000000 )) $ok"
}

declare -A R
# The machine's floor, measured in the same run: 1 GiB written into a
# fresh tmpfs file (what the server must do with a new image), and 1 GiB
# over loopback TCP (what any transfer must do).
floor_ms() {
	local s e
	case $1 in
	tmpfs) s=$(now_ns); dd if=/dev/zero of="$D/floor" bs=4M count=256 status=none; e=$(now_ns); rm -f "$D/floor" ;;
	tcp)
		# the receiver binds port 0 and says which it got; both sides
		# give up after 60 s (a run once hung here on a port in use)
		rm -f floor-rx.txt # (the last run's port must not be read)
		python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); s.settimeout(60)
print("port", s.getsockname()[1], flush=True)
c, _ = s.accept(); c.settimeout(60); n = 0; b = bytearray(1 << 22); v = memoryview(b)
while True:
    r = c.recv_into(v)
    if not r: break
    n += r
print(n)' >floor-rx.txt &
		local rx=$!
		wait_for floor-rx.txt '^port [0-9]'
		local port=$(sed -n 's/^port //p' floor-rx.txt)
		s=$(now_ns)
		timeout 60 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); b = bytes(1 << 22)
for _ in range(256): c.sendall(b)
c.close()' "$port"
		wait $rx; e=$(now_ns) ;;
	esac
	echo $(( (e - s) / 1000000 ))
}
if want big; then
	for i in $(seq 1 "$RUNS"); do floor_ms tmpfs; done | median >floor-tmpfs.txt
	for i in $(seq 1 "$RUNS"); do floor_ms tcp; done | median >floor-tcp.txt
	# and 1 GiB over loopback TCP into fresh memory (huge pages, a second
	# thread faulting them in ahead): the least a restore must do
	for i in $(seq 1 "$RUNS"); do "$FLOOR" tcp 1024; done | median >floor-fresh.txt
	R[ftmpfs]=$(cat floor-tmpfs.txt)
	R[ftcp]=$(cat floor-tcp.txt)
	R[ffresh]=$(cat floor-fresh.txt)
fi
if want big; then
	: >big.txt
	for i in $(seq 1 "$RUNS"); do one_big >>big.txt; done
	R[commit]=$(awk '{print $1}' big.txt | median)
	R[pct]=$(awk '{print $2}' big.txt | median)
	R[restart]=$(awk '{print $3}' big.txt | median)
	R[second]=$(awk '{print $5}' big.txt | median)
	R[commit_min]=$(awk '{print $1}' big.txt | fastest)
	R[restart_min]=$(awk '{print $3}' big.txt | fastest)
	R[verify]=$(awk '{print $4}' big.txt | median)
	R[before]=$(awk '$6 != "n/a" {print $6}' big.txt | median)
	R[before_min]=$(awk '$6 != "n/a" {print $6}' big.txt | fastest)
	R[before_verify]=$(awk '$7 != "n/a" {print $7}' big.txt | median)
fi
if want many; then
	read -r R[many_ms] R[many_ok] < <(many 16 64)
fi
R[hwm]=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$SP/status)
R[rss]=$(sort -n rss.txt | tail -1 | awk '{print int($1/1024)}')
kill $SP; wait $SP 2>/dev/null
for k in commit commit_min pct restart restart_min verify before before_min before_verify second many_ms many_ok rss hwm ftmpfs ftcp ffresh; do [ -n "${R[$k]+x}" ] || R[$k]="n/a"; done

echo "# ckpt_server figures ($(date -u +%Y-%m-%d), $(nproc) CPUs, loopback, state in tmpfs, median of $RUNS)"
echo "Load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| figure | measured | target |"
echo "|---|---|---|"
echo "| 1 GiB image stored and committed (\`ckpt now\` to the server, first image) | ${R[commit]} ms (fastest ${R[commit_min]}) | ≤ 800 ms |"
echo "| next checkpoint after 1% of pages changed: bytes sent / image | ${R[pct]} % (committed in ${R[second]} ms) | ≤ 3 % |"
echo "| 1 GiB restored from the server to running (\`ckpt restart\` to the restart callback) | ${R[restart]} ms (fastest ${R[restart_min]}) | ≤ 500 ms |"
echo "| then the program's first pass over its 1 GiB (bigmem checks every byte) | ${R[verify]} ms | |"
[ -n "${BEFORE:-}" ] && echo "| the same restore with the build in \`$BEFORE\` (alternating, same image); its first pass | ${R[before]} ms (fastest ${R[before_min]}); ${R[before_verify]} ms | |"
echo "| 16 jobs of 64 MiB checkpointing at once | ${R[many_ok]}/16 committed in ${R[many_ms]} ms | all finish |"
echo "| server peak anonymous memory (RssAnon, sampled every 50 ms) over the whole run | ${R[rss]} MiB | bounded |"
echo "| server VmHWM (includes pack files mapped for reading, tmpfs pages) | ${R[hwm]} MiB | |"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1f", a / b; else print "n/a" }'; }
echo
echo "Floor on this machine, same run: 1 GiB into a fresh tmpfs file ${R[ftmpfs]} ms; 1 GiB over loopback TCP ${R[ftcp]} ms;" \
	"1 GiB over loopback TCP into fresh memory (\`ckpt-floor tcp 1024\`: huge pages faulted in ahead by a second thread) ${R[ffresh]} ms."
echo "Stored and committed / (tmpfs + TCP floors): $(ratio "${R[commit]}" $(( ${R[ftmpfs]:-0} + ${R[ftcp]:-0} )))×;" \
	"restored / TCP floor: $(ratio "${R[restart]}" "${R[ftcp]}")×;" \
	"restored / (tmpfs + TCP floors): $(ratio "${R[restart]}" $(( ${R[ftmpfs]:-0} + ${R[ftcp]:-0} )))× (a restore also fills 1 GiB of fresh memory);" \
	"restored / TCP-into-fresh-memory floor: $(ratio "${R[restart]}" "${R[ffresh]}")×"
