#!/bin/bash
# libckpt triggers and their side effects:
#  - periodic checkpoints (ckpt run --interval 1) and SIGUSR2 from outside
#    fork checkpoint children the program never sees (no SIGCHLD, nothing
#    to wait() for);
#  - SIGTSTP checkpoints and exits with status 85; the restart's output,
#    through a pipe, completes the run exactly;
#  - `ckpt now --exit` does the same and returns once the job is gone;
#  - a job's own children (not the process `ckpt run` started) are left alone.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

# 1. interval + external SIGUSR2, invisible children
"$BIN/ckpt" run --dir "$T/ck1" --interval 1 -- "$PROGS/quiet" 120 20 >quiet.txt 2>&1 &
P=$!
wait_lines quiet.txt 10
kill -USR2 $P
wait $P
rc=$?
[ $rc -eq 0 ] || fail "quiet exited $rc: $(grep FAIL quiet.txt)"
n=$(ls ck1/ckpt-*.img 2>/dev/null | wc -l)
grep -q '^result ok' ck1/status || fail "no successful periodic checkpoint: $(cat ck1/status)"
seq=$(sed -n 's/^seq //p' ck1/status)
[ "$seq" -ge 2 ] || fail "expected at least 2 checkpoints (timer + SIGUSR2), status says seq $seq"
pass "periodic and SIGUSR2 checkpoints ($seq of them, $n images kept) invisible to SIGCHLD and wait()"

# 2. SIGTSTP = checkpoint and exit; stdout is a pipe; no fflush in the job
"$PROGS/counter" 60 10 --nofflush | cat >ref.txt
mkfifo pipe2
cat pipe2 >out.txt &
CAT=$!
"$BIN/ckpt" run --dir "$T/ck2" -- "$PROGS/counter" 60 10 --nofflush >pipe2 &
P=$!
# the job prints nothing until its buffer fills: wait for libckpt, then
# let it run a little (any moment will do)
wait_ready $P
sleep 0.$((RANDOM % 4))
kill -TSTP $P
wait $P
rc=$?
[ $rc -eq 85 ] || fail "SIGTSTP: job exited $rc, expected 85 (checkpointed and exited)"
grep -q '^result ok' ck2/status || fail "SIGTSTP: $(cat ck2/status)"
wait $CAT
"$BIN/ckpt" restart ck2 | cat >>out.txt
rc=${PIPESTATUS[0]}
[ $rc -eq 0 ] || fail "restart after SIGTSTP exited $rc"
cmp -s ref.txt out.txt || { diff ref.txt out.txt | head -5; fail "SIGTSTP: output through a pipe differs"; }
pass "SIGTSTP checkpoint-and-exit (status 85); restart through a pipe completes the output exactly"

# 3. ckpt now --exit
"$BIN/ckpt" run --dir "$T/ck3" -- "$PROGS/counter" 60 10 >out3.txt &
P=$!
wait_lines out3.txt 15
img=$("$BIN/ckpt" now --exit $P) || fail "ckpt now --exit failed"
[ -d /proc/$P ] && ! grep -q '^State:.*Z' /proc/$P/status && fail "ckpt now --exit returned while the job still runs"
wait $P
[ $? -eq 85 ] || fail "ckpt now --exit: job did not exit with 85"
"$BIN/ckpt" restart "$img" || fail "restart after ckpt now --exit"
"$PROGS/counter" 60 10 >ref3.txt
cmp -s ref3.txt out3.txt || fail "ckpt now --exit: output differs"
pass "ckpt now --exit returns after the image is committed and the job is gone"

# 3b. a program that tries to take the checkpoint signals for itself
"$BIN/ckpt" run --dir "$T/ck5" -- "$PROGS/quiet" 60 10 steal >steal.txt 2>&1 &
P=$!
wait_lines steal.txt 5
"$BIN/ckpt" now $P >/dev/null || fail "checkpoint of a program that set SIGUSR2 to SIG_IGN: $(cat ck5/status)"
"$BIN/ckpt" now --exit $P >/dev/null || fail "SIGTSTP of a program that ignored it"
wait $P
[ $? -eq 85 ] || fail "steal: job did not exit 85"
pass "a preloaded program cannot take SIGUSR2/SIGTSTP away from libckpt"

# 3c. bursts: back-to-back and concurrent requests are each answered
# (requests that arrive while a child writes are coalesced into one more)
"$BIN/ckpt" run --dir "$T/ck6" -- "$PROGS/counter" 1000000 1 >/dev/null &
P=$!
wait_ready $P
for i in $(seq 1 20); do
	"$BIN/ckpt" now --timeout 60 $P >/dev/null || fail "burst: back-to-back checkpoint $i: $(cat ck6/status)"
done
pids=""
for i in 1 2 3 4 5; do
	"$BIN/ckpt" now --timeout 60 $P >burst$i.out &
	pids="$pids $!"
done
for p in $pids; do wait $p || fail "burst: one of 5 concurrent ckpt now failed"; done
kill -9 $P
wait $P 2>/dev/null
pass "20 back-to-back and 5 concurrent checkpoint requests all answered"

# 4. children of the job are not checkpointed
"$BIN/ckpt" run --dir "$T/ck4" -- bash -c "$PROGS/quiet 40 10 >child.txt; echo done" >sh.txt &
P=$!
wait_lines child.txt 5
C=$(pgrep -P $P -f quiet)
[ -n "$C" ] || fail "cannot find the job's child"
kill -USR2 $C 2>/dev/null # no handler there: default action kills it
wait $P
grep -q FAIL child.txt && fail "child misbehaved"
[ -e ck4/status ] && grep -q "pid $C" ck4/status && fail "the job's child wrote a checkpoint"
pass "the job's own children are not checkpointed"

# 5. a request sent the moment the handler is installed, while libckpt is
# still starting (`ckpt now` sends as soon as the process catches the
# signal), is answered, not dropped (it was, ~3 times in 100)
lost=0
for i in $(seq 1 60); do
	rm -rf ck5
	KITE_CKPT_FULL_EVERY=1 "$BIN/ckpt" run --dir "$T/ck5" -- sleep 1000 &
	P=$!
	"$BIN/ckpt" now --timeout 5 --dir "$T/ck5" $P >/dev/null 2>&1 || lost=$((lost + 1))
	kill -9 $P
	wait $P 2>/dev/null
done
[ $lost = 0 ] || fail "$lost of 60 checkpoint requests sent at start-up were lost"
pass "60 checkpoint requests sent while libckpt starts: all answered"
exit 0
