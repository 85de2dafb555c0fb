#!/bin/bash
# bench/sandbox.sh: what the sandbox's closed files (KITE_CKPT_SANDBOX,
# docs/ckpt.md "The sandbox") cost a checkpoint and a restart, images and
# sandbox in tmpfs, medians of RUNS runs.  An idle job (tests/programs/quiet)
# beside MIB files of 1 MiB each:
#   - `ckpt now` without the sandbox, the first image with it (stores
#     every file), the next one after no change (reads and hashes every
#     file, stores none): the difference is the sandbox's cost;
#   - bytes of files in the second image (target: 0);
#   - `ckpt restart --move` of the second image into an empty directory
#     (every file written back) and into the same one again (every file
#     compared, none written), to the restored job's first sign of life.
#   RUNS=5 MIB=64 bench/sandbox.sh
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/bin
PROGS=$BIN/tests/programs
RUNS=${RUNS:-5}
MIB=${MIB:-64}
D=$(mktemp -d /dev/shm/kite-sandbox-bench.XXXXXX)
trap 'for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; rm -rf "$D"' EXIT
for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null; done
cd "$D" || exit 1

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { echo "$(( ($2 - $1) / 1000 ))" | awk '{printf "%.1f\n", $1 / 1000}'; }
ready() { # PID: libckpt's handlers are installed
	local i=0 m
	while :; do
		m=$(sed -n 's/^SigCgt:\t*//p' /proc/$1/status 2>/dev/null)
		[ -n "$m" ] && [ $(( (0x$m >> 11) & (0x$m >> 19) & 1 )) -eq 1 ] && return 0
		i=$((i + 1)); [ $i -gt 3000 ] && return 1
		sleep 0.002
	done
}

mkdir files
for i in $(seq 1 "$MIB"); do head -c $((1 << 20)) /dev/urandom >"files/f$i.dat"; done
: >plain.txt first.txt second.txt bytes.txt fresh.txt same.txt
for r in $(seq 1 "$RUNS"); do
	# without the sandbox
	(cd files && exec "$BIN/ckpt" run --dir "$D/ck0-$r" -- "$PROGS/quiet" 1000000 50 >/dev/null 2>&1) &
	P=$!
	ready $P || exit 1
	t0=$(now_ns); "$BIN/ckpt" now $P >/dev/null || exit 1; t1=$(now_ns)
	ms "$t0" "$t1" >>plain.txt
	kill -9 $P; wait $P 2>/dev/null
	# with it: the first image, then one after no change
	(cd files && KITE_CKPT_SANDBOX=. exec "$BIN/ckpt" run --dir "$D/ck-$r" -- "$PROGS/quiet" 1000000 50 >/dev/null 2>&1) &
	P=$!
	ready $P || exit 1
	t0=$(now_ns); "$BIN/ckpt" now $P >/dev/null || exit 1; t1=$(now_ns)
	sleep 0.05
	img=$("$BIN/ckpt" now $P) || exit 1; t2=$(now_ns)
	ms "$t0" "$t1" >>first.txt
	kill -9 $P; wait $P 2>/dev/null
	"$BIN/ckpt" inspect --summary "$img" | sed -n 's/^sandbox: .*, \([0-9]*\) bytes stored, .*/\1/p' >>bytes.txt
	# the second checkpoint again, timed alone, on a fresh job's chain
	(cd files && KITE_CKPT_SANDBOX=. exec "$BIN/ckpt" run --dir "$D/ckb-$r" -- "$PROGS/quiet" 1000000 50 >/dev/null 2>&1) &
	P=$!
	ready $P || exit 1
	"$BIN/ckpt" now $P >/dev/null || exit 1
	sleep 0.05
	t0=$(now_ns); img=$("$BIN/ckpt" now $P) || exit 1; t1=$(now_ns)
	ms "$t0" "$t1" >>second.txt
	kill -9 $P; wait $P 2>/dev/null
	# restarts: into an empty directory, then into the same one again
	for kind in fresh same; do
		[ $kind = fresh ] && { rm -rf "$D/new"; mkdir "$D/new"; }
		t0=$(now_ns)
		(cd "$D/new" && exec "$BIN/ckpt" restart --move "$D/files=$D/new" "$img" >/dev/null 2>&1) &
		R=$!
		ready $R || exit 1
		t1=$(now_ns)
		ms "$t0" "$t1" >>$kind.txt
		kill -9 $R; wait $R 2>/dev/null
	done
	cmp -s files/f1.dat new/f1.dat || { echo "restart did not bring f1.dat back" >&2; exit 1; }
	rm -rf "$D/ck0-$r" "$D/ck-$r" "$D/ckb-$r"
done
echo "sandbox of $MIB files of 1 MiB, tmpfs, median of $RUNS runs (load $(cut -d' ' -f1 /proc/loadavg)):"
printf '  %-58s %8s ms\n' "ckpt now of an idle job, no sandbox" "$(median <plain.txt)"
printf '  %-58s %8s ms\n' "ckpt now, first image with the sandbox (stores $MIB MiB)" "$(median <first.txt)"
printf "  %-58s %8s ms   (target: <= %d ms, 2 ms per MiB read and hashed)\n" \
	"ckpt now, next image, no file changed" "$(median <second.txt)" $((MIB * 2))
printf '  %-58s %8s      (target: 0)\n' "file bytes stored in that image" "$(median <bytes.txt)"
printf '  %-58s %8s ms\n' "ckpt restart --move into an empty directory (writes all)" "$(median <fresh.txt)"
printf '  %-58s %8s ms\n' "ckpt restart --move into the same directory (compares all)" "$(median <same.txt)"
