#!/bin/bash
# bench/ckpt.sh: libckpt figures on this machine, images in a tmpfs
# directory, medians of RUNS runs.  Prints each figure with its target
# (issue 3) and, measured in the same run (so that the machine's load
# weighs on both), what the machine itself costs for the same work: a bare
# fork of the same memory, writing the same bytes into tmpfs, starting a
# process.  Writes the table to bench/ckpt-results.md.
#   RUNS=5 bench/ckpt.sh            all but the long compute run
#   LONG=1 bench/ckpt.sh            also the 512 MiB compute job (~4 min:
#                                   alone and checkpointed, alternated, twice)
#   ONLY="trivial compute" ...      just those parts (big, steady, trivial, compute)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/bin
PROGS=$BIN/tests/programs
FLOOR=$BIN/bench/ckpt-floor
RUNS=${RUNS:-5}
# `make all` does not build the floor program (`make bench` does)
[ -x "$FLOOR" ] || make -C "$TOP" -s bin/bench/ckpt-floor >/dev/null || exit 1
D=$(mktemp -d /dev/shm/kite-ckpt-bench.XXXXXX)
trap 'for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; rm -rf "$D"' EXIT
for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null; done
cd "$D" || exit 1

. "$TOP/bench/lib.sh"
# median; of an even count, the mean of the middle two (the compute job has two pairs)
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# col FILE N [DIVISOR]: median of column N of FILE (divided)
col() { awk -v c="$2" -v d="${3:-1}" '{print $c/d}' "$1" | median; }

# status_num DIR KEY WORD: the number after WORD on the line starting with KEY in DIR/status
status_num() { sed -n "s/^$2 .*$3 \([0-9]*\).*/\1/p" "$1/status"; }

# one_big MIB: prints "pause_us commit_ms restart_ms image_bytes incr_bytes
#   fork_us prefork_us child_cpu_ms bare_fork_ms incr_pause_us incr_commit_ms incr_read
#   bare_fork_huge_ms restarted_pause_us"
# (KITE_CKPT_HUGE_PAGES=0 in the environment: the job's memory in 4 KiB pages)
one_big() {
	local mib=$1 dir=$D/big$RANDOM
	# emptied here: the job's own redirection happens later, in the
	# background, and the last run's "ready" must not be seen meanwhile
	: >out.txt
	"$BIN/ckpt" run --dir "$dir" -- "$PROGS/bigmem" "$mib" 1 >out.txt 2>err.txt &
	local P=$!
	wait_for out.txt ready || return 1
	local s e img
	s=$(now_ns); img=$("$BIN/ckpt" now $P); e=$(now_ns)
	local commit_ms=$(( (e - s) / 1000000 ))
	local fork_us=$(status_num "$dir" parent_us fork) prefork_us=$(status_num "$dir" parent_us prefork)
	local cpu_ms=$(( $(status_num "$dir" child_us cpu) / 1000 ))
	kill -USR1 $P; wait_for out.txt gap_us
	local pause=$(sed -n 's/gap_us //p' out.txt | tail -1)
	local bytes=$(stat -c %s "$img")
	kill -INT $P; wait_for out.txt dirtied
	s=$(now_ns); local img2=$("$BIN/ckpt" now $P); e=$(now_ns)
	local incr_ms=$(( (e - s) / 1000000 )) incr_read=$(sed -n 's/^pages read \([0-9]*\).*/\1/p' "$dir/status")
	local bytes2=$(stat -c %s "$img2")
	kill -USR1 $P
	until [ "$(grep -c gap_us out.txt)" -ge 2 ]; do sleep 0.002; done
	local pause2=$(sed -n 's/gap_us //p' out.txt | tail -1)
	kill -9 $P; wait $P 2>/dev/null
	# the machine's own floor for the pause, now, with the same memory
	local bare=$("$FLOOR" fork "$mib" 3) bare_huge=$("$FLOOR" fork "$mib" 3 huge)
	: >err.txt
	s=$(now_ns)
	"$BIN/ckpt" restart "$img2" >>out.txt 2>>err.txt &
	local R=$!
	wait_for err.txt restarted_ns || return 1
	local r=$(sed -n 's/restarted_ns //p' err.txt | tail -1)
	local restart_ms=$(( (r - s) / 1000000 ))
	# the restarted program's next pause: is its memory as it was (huge
	# pages or not)?
	local ngap=$(grep -c gap_us out.txt)
	kill -USR1 $R
	until [ "$(grep -c gap_us out.txt)" -gt "$ngap" ]; do sleep 0.002; done
	"$BIN/ckpt" now $R >/dev/null
	kill -USR1 $R
	until [ "$(grep -c gap_us out.txt)" -gt $((ngap + 1)) ]; do sleep 0.002; done
	local pause3=$(sed -n 's/gap_us //p' out.txt | tail -1)
	kill -TERM $R; wait $R 2>/dev/null
	rm -rf "$dir"
	echo "$pause $commit_ms $restart_ms $bytes $bytes2 $fork_us $prefork_us $cpu_ms $bare $pause2 $incr_ms $incr_read $bare_huge $pause3"
}

# one_steady: a full 1 GiB checkpoint once images are recycled (the 4th in a row)
one_steady() {
	local dir=$D/steady$RANDOM
	: >sout.txt
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

# one_trivial: prints "commit_us image_bytes spawn_us child_us"
one_trivial() {
	local dir=$D/triv$RANDOM
	"$BIN/ckpt" run --dir "$dir" -- sleep 1000 &
	local P=$!
	"$BIN/ckpt" now --dir "$dir" $P >/dev/null 2>&1 # warm up (and wait until ready)
	local s e img
	s=$(now_ns); img=$("$BIN/ckpt" now $P); e=$(now_ns)
	local commit=$(( (e - s) / 1000 ))
	local child=$(( $(status_num "$dir" child_us scan) + $(status_num "$dir" child_us write) + $(status_num "$dir" child_us commit) ))
	# the floor: starting a process that does nothing
	s=$(now_ns); /bin/true; e=$(now_ns)
	echo "$commit $(stat -c %s "$img") $(( (e - s) / 1000 )) $child"
	kill -9 $P; wait $P 2>/dev/null
	rm -rf "$dir"
}

declare -A R
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
for mib in 100 1024 4k; do
	want big || continue
	: >big.txt
	if [ $mib = 4k ]; then # the same 1 GiB job with libckpt's huge pages off
		for i in $(seq 1 "$RUNS"); do KITE_CKPT_HUGE_PAGES=0 one_big 1024 >>big.txt; done
	else
		for i in $(seq 1 "$RUNS"); do one_big $mib >>big.txt; done
	fi
	R[pause_$mib]=$(col big.txt 1 1000)
	R[commit_$mib]=$(col big.txt 2)
	R[restart_$mib]=$(col big.txt 3)
	R[bytes_$mib]=$(col big.txt 4)
	R[incr_$mib]=$(awk '{printf "%.2f\n", 100*$5/$4}' big.txt | median)
	R[fork_$mib]=$(col big.txt 6 1000)
	R[prefork_$mib]=$(col big.txt 7 1000)
	R[cpu_$mib]=$(col big.txt 8)
	R[bare_$mib]=$(col big.txt 9)
	R[pause2_$mib]=$(col big.txt 10 1000)
	R[incr_ms_$mib]=$(col big.txt 11)
	R[incr_read_$mib]=$(col big.txt 12)
	R[pause_ratio_$mib]=$(awk '$9 > 0 {printf "%.2f\n", ($1/1000)/$9}' big.txt | median)
	R[bare_huge_$mib]=$(col big.txt 13)
	R[pause3_$mib]=$(col big.txt 14 1000)
done
# writing a fresh 1 GiB file and overwriting one, in tmpfs: the floor of a
# first image and of a later one written over a recycled file
if want big || want steady; then
	: >floor.txt
	for i in $(seq 1 "$RUNS"); do "$FLOOR" tmpfs "$D" 1024 >>floor.txt; done
	R[tmpfs_fresh]=$(col floor.txt 1)
	R[tmpfs_over]=$(col floor.txt 2)
	R[cow]=$("$FLOOR" cow 512 | sed 's| | / |')
fi
: >steady.txt
want steady && for i in $(seq 1 "$RUNS"); do one_steady >>steady.txt; done
R[steady]=$(median <steady.txt)
: >triv.txt
want trivial && for i in $(seq 1 "$RUNS"); do one_trivial >>triv.txt; done
R[triv_ms]=$(col triv.txt 1 1000)
R[triv_kib]=$(awk '{print int($2/1024)}' triv.txt | median)
R[triv_spawn]=$(col triv.txt 3 1000)
R[triv_child]=$(col triv.txt 4 1000)

if [ "${LONG:-0}" = 1 ] && want compute || [[ " ${ONLY:-} " == *" compute "* ]]; then
	# Alone and checkpointed alternately: the load changes over minutes,
	# and runs far apart in time are not comparable.
	: >comp.txt
	for i in 1 2; do
		l0=$(cut -d' ' -f1 /proc/loadavg)
		# elapsed, CPU of the job, CPU of its children (checkpoint children)
		base=$("$PROGS/compute" 512 ${PASSES:-800} | awk '{print $2, $6, $8}')
		with=$("$BIN/ckpt" run --dir "$D/comp$i" --interval 10 -- "$PROGS/compute" 512 ${PASSES:-800} |
			awk '{print $2, $6, $8}')
		n=$(sed -n 's/^seq //p' "$D/comp$i/status")
		echo "$base $with $n $l0 $(cut -d' ' -f1 /proc/loadavg)" >>comp.txt
	done
	# fields: elapsed cpu children (alone), elapsed cpu children (checkpointed), checkpoints, load before, after
	R[slow]=$(awk '{printf "%.1f\n", 100*($4-$1)/$1}' comp.txt | median)
	R[slow_cpu]=$(awk '{printf "%.1f\n", 100*($5-$2)/$2}' comp.txt | median)
	R[slow_children]=$(awk '{printf "%.1f\n", 100*$6/$2}' comp.txt | median)
	R[slow_detail]=$(awk '{printf "%s%s s alone, %s s with %d checkpoints (job CPU %+.1f %%, children %.1f %%), load %s then %s", (NR > 1 ? "; " : ""), $1, $4, $7, 100*($5-$2)/$2, 100*$6/$2, $8, $9}' comp.txt)
else
	R[slow]="not run (LONG=1)"
	R[slow_detail]=""
fi

for k in pause_1024 commit_1024 restart_1024 bytes_1024 incr_1024 pause_100 commit_100 restart_100 incr_100 \
	triv_ms triv_kib slow slow_detail steady fork_1024 prefork_1024 cpu_1024 bare_1024 pause2_1024 incr_ms_1024 \
	incr_read_1024 pause_ratio_1024 bare_huge_1024 pause3_1024 pause_4k pause2_4k pause3_4k commit_4k restart_4k incr_4k \
	bare_4k bare_100 tmpfs_fresh tmpfs_over cow triv_spawn triv_child slow_cpu slow_children; do
	[ -n "${R[$k]+x}" ] || R[$k]="n/a"
done
out=$TOP/bench/ckpt-results.md
[ -n "${ONLY:-}" ] && out=/dev/null # partial runs do not overwrite the table
{
	echo "# libckpt figures ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r), images in tmpfs, median of $RUNS)"
	echo
	echo "Load average when the run ended: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine moves these figures a lot)."
	echo
	echo "| figure | measured | target | this machine's floor, same run |"
	echo "|---|---|---|---|"
	echo "| 1 GiB dirty: application pause (first checkpoint / after 1 % changed / after a restart) | ${R[pause_1024]} / ${R[pause2_1024]} / ${R[pause3_1024]} ms (fork ${R[fork_1024]} ms, before it ${R[prefork_1024]} ms) | ≤ 20 ms | bare fork of 1 GiB: ${R[bare_huge_1024]} ms in 2 MiB pages, ${R[bare_1024]} ms in 4 KiB pages |"
	echo "| … the same job with huge pages off (\`KITE_CKPT_HUGE_PAGES=0\`): pause (first / after 1 % / after a restart); first image; restart; 1 % changed | ${R[pause_4k]} / ${R[pause2_4k]} / ${R[pause3_4k]} ms; ${R[commit_4k]} ms; ${R[restart_4k]} ms; ${R[incr_4k]} % | | bare fork of 1 GiB in 4 KiB pages: ${R[bare_4k]} ms |"
	echo "| 1 GiB dirty: first image committed (\`ckpt now\` returns) | ${R[commit_1024]} ms (child CPU ${R[cpu_1024]} ms) | ≤ 600 ms | 1 GiB into a new tmpfs file: ${R[tmpfs_fresh]} ms |"
	echo "| 1 GiB dirty, steady state (full image, recycled file): committed | ${R[steady]} ms | ≤ 600 ms | 1 GiB over a tmpfs file: ${R[tmpfs_over]} ms |"
	echo "| 1 GiB dirty: restart to running (from the incremental image: a chain of 2) | ${R[restart_1024]} ms | ≤ 300 ms | |"
	echo "| 1 GiB: full image size | ${R[bytes_1024]} bytes | | |"
	echo "| 1 GiB, 1% of pages changed: next image / full image | ${R[incr_1024]} % | ≤ 3 % | |"
	echo "| 1 GiB, 1% changed: next image committed; pages the child read; pause | ${R[incr_ms_1024]} ms; ${R[incr_read_1024]} of 262144; ${R[pause2_1024]} ms | | |"
	echo "| 100 MiB: pause / commit / restart | ${R[pause_100]} ms / ${R[commit_100]} ms / ${R[restart_100]} ms | | bare fork of 100 MiB: ${R[bare_100]} ms |"
	echo "| 100 MiB, 1% changed: next image / full | ${R[incr_100]} % | | |"
	echo "| trivial program (\`sleep\`): checkpoint | ${R[triv_ms]} ms (of it the checkpoint child: ${R[triv_child]} ms) | ≤ 5 ms | starting /bin/true: ${R[triv_spawn]} ms |"
	echo "| trivial program: image size | ${R[triv_kib]} KiB | ≤ 256 KiB | |"
	echo "| 512 MiB compute job, checkpoint every 10 s: slowdown (elapsed) | ${R[slow]} % ${R[slow_detail]:+(${R[slow_detail]})} | ≤ 1 % | a write while a fork's child lives / after the child gave the page back: ${R[cow]} µs per page |"
	echo "| same: CPU time of the job itself / of its checkpoint children, over the job's CPU alone | +${R[slow_cpu]} % / ${R[slow_children]} % | | |"
	echo
	echo "Pause: the longest gap seen by a job spinning on clock_gettime; fork and before-fork times from DIR/status (parent_us)."
	echo "Commit: wall time of \`ckpt now\` (signal, fork, write, fsync, rename, status); child CPU from DIR/status."
	echo "Restart: from \`ckpt restart\` starting to the job's restart callback running (verification of every checksum included)."
	echo "Floors: bench/ckpt-floor in the same run (bare fork of the same touched 4 KiB pages; 1 MiB writes into tmpfs; copy-on-write faults), medians."
} | tee "$out"
