#!/bin/bash
# libckpt and threads: a job with 4 worker threads meeting at barriers,
# sharing a mutex, signalled with pthread_kill (glibc's cached tids must be
# the new ones), checking sched_getcpu (rseq per thread) and joined at the
# end (clear-child-tid re-established) is checkpointed at random moments,
# killed and restarted three times in a row — preloaded, and relinked
# static; output must equal an uninterrupted run.  Checkpoint children stay
# invisible with threads too.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

"$PROGS/threads" 60 4 5 >ref.txt || fail "uninterrupted run failed: $(tail -2 ref.txt)"

rounds() { # NAME CMD...
	local name=$1
	shift
	rm -rf ck out.txt
	"$@" >out.txt 2>err.txt &
	local P=$! at=0
	for round in 1 2 3; do
		at=$((at + 5 + RANDOM % 10))
		wait_lines out.txt $at
		img=$("$BIN/ckpt" now --dir "$T/ck" $P) || fail "$name round $round: ckpt now failed: $(cat ck/status)"
		kill -9 $P
		wait $P 2>/dev/null
		"$BIN/ckpt" restart "$img" 2>>err.txt &
		P=$!
	done
	wait $P
	local rc=$?
	[ $rc -eq 0 ] || fail "$name: restarted job exited $rc: $(grep FAIL out.txt | head -3; tail -3 err.txt)"
	cmp -s ref.txt out.txt || { diff ref.txt out.txt | head -5; fail "$name: output differs"; }
	pass "$name: 5 threads checkpointed, killed and restarted 3 times; output identical"
}

rounds preloaded "$BIN/ckpt" run --dir "$T/ck" -- "$PROGS/threads" 60 4 5
"$BIN/ckpt" inspect --summary "$T/ck/latest" | grep -q "5 thread(s)" || fail "inspect does not show 5 threads"
# the checkpoint taken by a worker thread rather than the main one:
# kill(2) aimed at a worker's tid is delivered to that worker
rm -rf ck out.txt
"$BIN/ckpt" run --dir "$T/ck" -- "$PROGS/threads" 60 4 5 >out.txt 2>err.txt &
P=$!
wait_lines out.txt 10
W=$(ls /proc/$P/task | sort -n | tail -1)
[ "$W" != "$P" ] || fail "no worker thread found"
kill -USR2 "$W"
for i in $(seq 1 3000); do grep -q '^result ok' ck/status 2>/dev/null && break; sleep 0.01; done
grep -q '^result ok' ck/status || fail "worker-taken checkpoint: $(cat ck/status 2>/dev/null)"
kill -9 $P
wait $P 2>/dev/null
"$BIN/ckpt" restart ck 2>>err.txt || fail "restart of a worker-taken checkpoint: $(grep FAIL out.txt | head -3)"
cmp -s ref.txt out.txt || fail "worker-taken checkpoint: output differs"
pass "checkpoint taken by a worker thread (tid $W): restarted, output identical"

if [ -x "$PROGS/threads.static" ]; then
	KITE_CKPT_DIR=$T/ck rounds "relinked static" "$PROGS/threads.static" 60 4 5
fi

"$BIN/ckpt" run --dir "$T/ckq" --interval 1 -- "$PROGS/quiet" 100 20 threads >quiet.txt 2>&1 &
P=$!
wait_lines quiet.txt 10
"$BIN/ckpt" now $P >/dev/null || fail "checkpoint of quiet with a thread"
wait $P || fail "quiet with threads: $(grep FAIL quiet.txt)"
pass "checkpoint children invisible to a threaded job too"
exit 0
