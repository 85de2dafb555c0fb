#!/bin/bash
# bench/ckpt.sh: libckpt figures on this machine, images in a tmpfs
# directory, medians of RUNS runs.  Prints each figure with its target
# (issue 3) and writes the table to bench/ckpt-results.md.
#   RUNS=5 bench/ckpt.sh            all but the long compute run
#   LONG=1 bench/ckpt.sh            also the 512 MiB compute job (~2 min)
#   ONLY="trivial compute" ...      just those parts (big, trivial, compute)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/bin
PROGS=$BIN/tests/programs
RUNS=${RUNS:-5}
D=$(mktemp -d /dev/shm/kite-ckpt-bench.XXXXXX)
trap 'for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; rm -rf "$D"' EXIT
for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null; done
cd "$D" || exit 1

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else print a[int((NR+1)/2)]}'; }
wait_for() { # FILE PATTERN
	local i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 30000 ] && { echo "timeout waiting for $2 in $1" >&2; return 1; }
		sleep 0.002
	done
}

# one_big MIB: prints "pause_us commit_ms restart_ms image_bytes incr_bytes"
one_big() {
	local mib=$1 dir=$D/big$RANDOM
	"$BIN/ckpt" run --dir "$dir" -- "$PROGS/bigmem" "$mib" 1 >out.txt 2>err.txt &
	local P=$!
	wait_for out.txt ready || return 1
	local s e img
	s=$(now_ns); img=$("$BIN/ckpt" now $P); e=$(now_ns)
	local commit_ms=$(( (e - s) / 1000000 ))
	kill -USR1 $P; wait_for out.txt gap_us
	local pause=$(sed -n 's/gap_us //p' out.txt | tail -1)
	local bytes=$(stat -c %s "$img")
	kill -INT $P; wait_for out.txt dirtied
	local img2=$("$BIN/ckpt" now $P)
	local bytes2=$(stat -c %s "$img2")
	kill -9 $P; wait $P 2>/dev/null
	: >err.txt
	s=$(now_ns)
	"$BIN/ckpt" restart "$img2" >>out.txt 2>>err.txt &
	local R=$!
	wait_for err.txt restarted_ns || return 1
	local r=$(sed -n 's/restarted_ns //p' err.txt | tail -1)
	local restart_ms=$(( (r - s) / 1000000 ))
	kill -TERM $R; wait $R 2>/dev/null
	rm -rf "$dir"
	echo "$pause $commit_ms $restart_ms $bytes $bytes2"
}

# one_steady: a full 1 GiB checkpoint once images are recycled (the 4th in a row)
one_steady() {
	local dir=$D/steady$RANDOM
	KITE_CKPT_FULL_EVERY=1 "$BIN/ckpt" run --dir "$dir" -- "$PROGS/bigmem" 1024 >sout.txt 2>/dev/null &
	local P=$!
	wait_for sout.txt ready || return 1
	local i s e
	for i in 1 2 3; do "$BIN/ckpt" now $P >/dev/null; done
	s=$(now_ns); "$BIN/ckpt" now $P >/dev/null; e=$(now_ns)
	echo $(( (e - s) / 1000000 ))
	kill -9 $P; wait $P 2>/dev/null
	rm -rf "$dir"
}

# one_trivial: prints "commit_ms image_bytes"
one_trivial() {
	local dir=$D/triv$RANDOM
	"$BIN/ckpt" run --dir "$dir" -- sleep 1000 &
	local P=$!
	"$BIN/ckpt" now --dir "$dir" $P >/dev/null 2>&1 # warm up (and wait until ready)
	local s e img
	s=$(now_ns); img=$("$BIN/ckpt" now $P); e=$(now_ns)
	echo "$(( (e - s) / 1000000 )) $(stat -c %s "$img")"
	kill -9 $P; wait $P 2>/dev/null
	rm -rf "$dir"
}

declare -A R
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
for mib in 100 1024; do
	want big || continue
	: >big.txt
	for i in $(seq 1 "$RUNS"); do one_big $mib >>big.txt; done
	R[pause_$mib]=$(awk '{print $1/1000}' big.txt | median)
	R[commit_$mib]=$(awk '{print $2}' big.txt | median)
	R[restart_$mib]=$(awk '{print $3}' big.txt | median)
	R[bytes_$mib]=$(awk '{print $4}' big.txt | median)
	R[incr_$mib]=$(awk '{printf "%.2f\n", 100*$5/$4}' big.txt | median)
done
: >steady.txt
want steady && for i in $(seq 1 "$RUNS"); do one_steady >>steady.txt; done
R[steady]=$(median <steady.txt)
: >triv.txt
want trivial && for i in $(seq 1 "$RUNS"); do one_trivial >>triv.txt; done
R[triv_ms]=$(awk '{print $1}' triv.txt | median)
R[triv_kib]=$(awk '{print int($2/1024)}' triv.txt | median)

if [ "${LONG:-0}" = 1 ] && want compute || [[ " ${ONLY:-} " == *" compute "* ]]; then
	base=$("$PROGS/compute" 512 ${PASSES:-800} | awk '{print $2}')
	with=$("$BIN/ckpt" run --dir "$D/comp" --interval 10 -- "$PROGS/compute" 512 ${PASSES:-800} | awk '{print $2}')
	R[slow]=$(awk -v a="$base" -v b="$with" 'BEGIN {printf "%.1f", 100*(b-a)/a}')
	R[slow_detail]="$base s alone, $with s with a checkpoint every 10 s"
else
	R[slow]="not run (LONG=1)"
	R[slow_detail]=""
fi

for k in pause_1024 commit_1024 restart_1024 bytes_1024 incr_1024 pause_100 commit_100 restart_100 incr_100 \
	triv_ms triv_kib slow slow_detail steady; do
	[ -n "${R[$k]+x}" ] || R[$k]="n/a"
done
out=$TOP/bench/ckpt-results.md
[ -n "${ONLY:-}" ] && out=/dev/null # partial runs do not overwrite the table
{
	echo "# libckpt figures ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r), images in tmpfs, median of $RUNS)"
	echo
	echo "Load average when the run ended: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine moves these figures a lot)."
	echo
	echo "| figure | measured | target |"
	echo "|---|---|---|"
	echo "| 1 GiB dirty: application pause | ${R[pause_1024]} ms | ≤ 20 ms |"
	echo "| 1 GiB dirty: first image committed (\`ckpt now\` returns) | ${R[commit_1024]} ms | ≤ 600 ms |"
	echo "| 1 GiB dirty, steady state (full image, recycled file): committed | ${R[steady]} ms | ≤ 600 ms |"
	echo "| 1 GiB dirty: restart to running (from the incremental image: a chain of 2) | ${R[restart_1024]} ms | ≤ 300 ms |"
	echo "| 1 GiB: full image size | ${R[bytes_1024]} bytes | |"
	echo "| 1 GiB, 1% of pages changed: next image / full image | ${R[incr_1024]} % | ≤ 3 % |"
	echo "| 100 MiB: pause / commit / restart | ${R[pause_100]} ms / ${R[commit_100]} ms / ${R[restart_100]} ms | |"
	echo "| 100 MiB, 1% changed: next image / full | ${R[incr_100]} % | |"
	echo "| trivial program (\`sleep\`): checkpoint | ${R[triv_ms]} ms | ≤ 5 ms |"
	echo "| trivial program: image size | ${R[triv_kib]} KiB | ≤ 256 KiB |"
	echo "| 512 MiB compute job, checkpoint every 10 s: slowdown | ${R[slow]} % ${R[slow_detail]:+(${R[slow_detail]})} | ≤ 1 % |"
	echo
	echo "Pause: the longest gap seen by a job spinning on clock_gettime (it includes fork's page-table copy)."
	echo "Commit: wall time of \`ckpt now\` (signal, fork, write, fsync, rename, status)."
	echo "Restart: from \`ckpt restart\` starting to the job's restart callback running (verification of every checksum included)."
} | tee "$out"
