#!/bin/bash
# bench/restore-ab.sh: 1 GiB restored from a ckpt_server on loopback, two
# builds compared in the same run (each with its own server and client,
# alternating), so that the machine's load weighs on both alike.
#   bench/restore-ab.sh BEFORE_DIR [AFTER_DIR] [ROUNDS]
# A DIR is a built tree (its bin/ and lib/: e.g. a worktree of an older
# commit after `make all`); AFTER_DIR defaults to this tree.  Each round,
# for each build: a fresh server (state in tmpfs), a `bigmem 1024` job
# checkpointed to it, killed, and restored RESTORES times (default 3).
# Prints the median restore (`ckpt restart` to the program's restart
# callback) and the server's CPU per restore for each build, and their
# ratio.  Not run by `make bench` (it needs a second build).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/lib.sh"
[ $# -ge 1 ] || { echo "usage: bench/restore-ab.sh BEFORE_DIR [AFTER_DIR] [ROUNDS]" >&2; exit 2; }
A=$(cd "$1" && pwd) || exit 2
B=$(cd "${2:-$TOP}" && pwd) || exit 2
ROUNDS=${3:-3}
RESTORES=${RESTORES:-3}
for d in "$A" "$B"; do
	[ -x "$d/bin/ckpt_server" ] && [ -x "$d/bin/tests/programs/bigmem" ] || { echo "$d: not built (make all)" >&2; exit 2; }
done
D=$(mktemp -d /dev/shm/kite-restore-ab.XXXXXX)
trap 'for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; rm -rf "$D"' EXIT
for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null; done
cd "$D" || exit 1

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else print a[int((NR+1)/2)]}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# one BUILD_DIR TAG: appends "restore_ms server_cpu_ms" lines to TAG.txt
one() {
	local bin=$1/bin tag=$2
	rm -rf srv img
	mkdir srv
	echo "listen: 127.0.0.1:0" >srv/server.yaml
	"$bin/ckpt_server" --config srv/server.yaml --state-dir "$D/srv" 2>srv/log &
	local sp=$!
	until [ -s srv/ckpt_server.addr ]; do sleep 0.01; done
	local srv
	srv=$(cat srv/ckpt_server.addr)
	export KITE_POOL_KEY_FILE=$D/srv/pool.key
	: >out.txt
	"$bin/ckpt" run --server "$srv" --dir "$D/img" -- "$bin/tests/programs/bigmem" 1024 1 >out.txt 2>err.txt &
	local p=$!
	wait_for out.txt ready || return 1
	"$bin/ckpt" now $p >/dev/null || return 1
	kill -9 $p
	wait $p 2>/dev/null
	local i
	for i in $(seq 1 "$RESTORES"); do
		: >err.txt
		local c0 s
		c0=$(cpu_ticks $sp)
		s=$(now_ns)
		"$bin/ckpt" restart "$D/img" >>out.txt 2>>err.txt &
		local r=$!
		wait_for err.txt restarted_ns || return 1
		local t
		t=$(sed -n 's/restarted_ns //p' err.txt | tail -1)
		echo "$(( (t - s) / 1000000 )) $(( ($(cpu_ticks $sp) - c0) * 1000 / $(getconf CLK_TCK) ))" >>"$tag.txt"
		kill -9 $r
		wait $r 2>/dev/null
	done
	kill $sp
	wait $sp 2>/dev/null
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
: >a.txt
: >b.txt
for r in $(seq 1 "$ROUNDS"); do
	# each build goes first in every other round
	if [ $((r % 2)) = 1 ]; then one "$A" a && one "$B" b; else one "$B" b && one "$A" a; fi || { echo "a run failed: $(tail -3 err.txt)" >&2; exit 1; }
done
ra=$(awk '{print $1}' a.txt | median)
rb=$(awk '{print $1}' b.txt | median)
echo "# 1 GiB restored from a ckpt_server on loopback, $ROUNDS rounds x $RESTORES restores per build, alternating"
echo "Load average at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| build | restore (median) | fastest | server CPU per restore (median) |"
echo "|---|---|---|---|"
echo "| before: $A | $ra ms | $(awk '{print $1}' a.txt | sort -n | head -1) ms | $(awk '{print $2}' a.txt | median) ms |"
echo "| after: $B | $rb ms | $(awk '{print $1}' b.txt | sort -n | head -1) ms | $(awk '{print $2}' b.txt | median) ms |"
echo
echo "after / before: $(awk -v a="$ra" -v b="$rb" 'BEGIN {printf "%.2f", b / a}') (target: the restore <= 500 ms)"
