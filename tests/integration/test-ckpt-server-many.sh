#!/bin/bash
# ckpt_server: eight counter jobs checkpoint to one server at the same
# moment (`ckpt now` in parallel), are all killed, and all restart from
# the server at once; each one's output equals an uninterrupted run byte
# for byte, the images were stored apart (eight allocations, eight
# committed images), and no upload is left open.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
. "$(dirname "$0")/ckpt-server-lib.sh"
[ -x "$BIN/ckpt_server" ] || { echo "SKIP: ckpt_server not built"; exit 77; }
cd "$T" || exit 1
start_server
N=8
STEPS=60
"$PROGS/counter" $STEPS 10 >ref.txt || fail "uninterrupted run failed"

pids=()
for i in $(seq 1 $N); do
	mkdir "j$i"
	(cd "j$i" && exec "$BIN/ckpt" run --server "$SRV" --dir "$T/j$i/ck" -- "$PROGS/counter" $STEPS 10 \
		>"$T/j$i/out.txt" 2>"$T/j$i/err.txt") &
	pids+=($!)
done
for i in $(seq 1 $N); do wait_lines "j$i/out.txt" 15; done

# all checkpoint at once
nows=()
for i in $(seq 1 $N); do
	"$BIN/ckpt" now "${pids[$((i - 1))]}" >"j$i/now.txt" 2>"j$i/now.err" &
	nows+=($!)
done
for i in $(seq 1 $N); do
	wait "${nows[$((i - 1))]}" || fail "job $i: ckpt now failed: $(cat "j$i/now.err" "j$i/ck/status" 2>/dev/null)"
done
for p in "${pids[@]}"; do kill -9 "$p"; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
ids=$(for i in $(seq 1 $N); do awk '$1 == "id" {print $2}' "j$i/ck/server.caps"; done | sort -u | wc -l)
[ "$ids" -eq $N ] || fail "the $N jobs share allocations ($ids distinct ids)"
for i in $(seq 1 $N); do
	id=$(awk '$1 == "id" {print $2}' "j$i/ck/server.caps")
	[ "$(cat "j$i/now.txt")" = "server:$SRV/$id" ] || fail "job $i: ckpt now printed '$(cat "j$i/now.txt")'"
done
pass "$N jobs checkpointed to one server at once, each into its own allocation"

# all restart from the server at once
rs=()
for i in $(seq 1 $N); do
	(cd "j$i" && exec "$BIN/ckpt" restart "$T/j$i/ck" 2>>"$T/j$i/err.txt") &
	rs+=($!)
done
for i in $(seq 1 $N); do
	wait "${rs[$((i - 1))]}"
	rc=$?
	[ $rc -eq 0 ] || fail "job $i: restarted counter exited $rc: $(tail -3 "j$i/err.txt")"
	cmp -s ref.txt "j$i/out.txt" || { diff ref.txt "j$i/out.txt" | head; fail "job $i: output differs from the uninterrupted run"; }
done
pass "all $N restarted from the server at once; every output identical to the uninterrupted run ($(wc -l <ref.txt) lines)"

[ "$(status_field uploads)" = 0 ] || fail "uploads still open: $(status_field uploads)"
"$BIN/pool" ckpt --ckpt-server "$SRV" ls >ls.txt || fail "pool ckpt ls failed"
[ "$(grep -c committed ls.txt)" -eq $N ] || fail "expected $N committed images: $(cat ls.txt)"
pass "$N committed images listed, no upload left open"
