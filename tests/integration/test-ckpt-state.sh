#!/bin/bash
# libckpt: process state survives checkpoint/kill/restart, three times in a
# row at random moments: signal handlers, mask, alternate stack, interval
# timer, umask, cwd, environment, __thread data, files read and written at
# offsets (records.dat rewritten after the checkpoint is rolled back),
# O_APPEND/close-on-exec flags, private and shared file mappings, dlopen,
# AVX registers live in a spin loop, rseq re-registration (sched_getcpu),
# the vDSO.  The program checks all of it itself at every step; its output
# and files must equal an uninterrupted run's.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

STEPS=60
mkdir ref run
"$PROGS/state" $STEPS 5 "$T/ref" >ref.txt || fail "uninterrupted run failed: $(tail -3 ref.txt)"

"$BIN/ckpt" run --dir "$T/ck" -- "$PROGS/state" $STEPS 5 "$T/run" >out.txt 2>err.txt &
P=$!
at=0
for round in 1 2 3; do
	at=$((at + 5 + RANDOM % 10))
	wait_lines out.txt $at
	img=$("$BIN/ckpt" now $P) || fail "round $round: ckpt now failed: $(cat ck/status)"
	kill -9 $P
	wait $P 2>/dev/null
	"$BIN/ckpt" restart "$img" 2>>err.txt &
	P=$!
	pass "round $round: checkpointed after $at+ steps, killed, restarted as pid $P"
done
wait $P
rc=$?
[ $rc -eq 0 ] || fail "restarted program exited $rc: $(grep FAIL out.txt | head -5; cat err.txt)"
cmp -s ref.txt out.txt || { diff ref.txt out.txt | head; fail "stdout differs from the uninterrupted run"; }
for f in records.dat log.txt input.dat mapped.dat; do
	cmp -s "ref/sub/$f" "run/sub/$f" || fail "$f differs from the uninterrupted run"
done
pass "output and files identical to the uninterrupted run; the program's own checks passed"
exit 0
