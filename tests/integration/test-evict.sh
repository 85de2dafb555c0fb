#!/bin/bash
# Eviction and migration with a checkpoint (issue 6), on loopback: a
# schedd and two startds sharing one checkpoint directory.  A counting
# job runs on ws1; its owner comes back: the job is suspended, then
# vacated — checkpointed by libckpt and gone from ws1 — and goes back to
# Idle with that checkpoint; it resumes on ws2 from it (not from the
# start) and completes.  Its output is byte for byte that of a run that
# was never interrupted, and the queue has the whole story.
. "$(dirname "$0")/lib.sh"

COUNTER=$ROOT/bin/tests/programs/counter
[ -x "$COUNTER" ] || { echo "SKIP: $COUNTER not built"; exit 77; }

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
chmod 755 "$TMP"
mkdir -m 1777 "$TMP/ckpt" # shared by both machines, like an NFS export

STEPS=80
"$COUNTER" $STEPS 50 >ref.txt || fail "the reference run failed"
cp "$COUNTER" counter

ACTIVITY_AGE='-1 hour'
POLL=0.1s
START_IDLE=1s
# ws1: the owner's return suspends at once and vacates after 1 s
start_startd ws1 "activity_sources: [load]" "benchmark: false" "memory: 1G" "checkpoint_dir: $TMP/ckpt" \
	"max_suspend_time: 1s" "continue_idle_time: 1h"
WS1=$STARTD_PID

cat >count.yaml <<YAML
executable: counter
arguments: ["$STEPS", "50"]
output: count.out
error: count.err
YAML
ID=$(submit count.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 15 status_is "$ID" R; then pass "the job runs on ws1"; else fail "the job runs on ws1" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
find_job() { pgrep -f '^\./counter 80 50$' >/dev/null; }
wait_for 10 find_job
sleep 1.5 # some steps done

# the owner comes back to ws1 and stays
touch ws1/activity
( for i in $(seq 1 100); do touch ws1/activity; sleep 0.1; done ) &
PIDS+=($!)
if wait_for 5 grep -q "suspending job" ws1/startd.log; then pass "owner activity suspends the job"; else fail "owner activity suspends the job" "$(tail -5 ws1/startd.log)"; fi
if wait_for 15 status_is "$ID" I; then pass "then vacates it: the job is Idle again"; else fail "then vacates it: the job is Idle again" "$(q -a "$ID"; tail -8 ws1/startd.log)"; fi
check_contains "ws1 vacated it with a checkpoint" "vacating job" "$(cat ws1/startd.log)"
out=$(q -a -l "$ID")
check_contains "q -l: one checkpoint" "NumCheckpoints = 1" "$out"
check_contains "q -l: the image" "LastCheckpointImage = \"$TMP/ckpt/$ID/ckpt-" "$out"
check_contains "q -l: its size" "CheckpointSize = " "$out"
check_contains "q -l: why it left" "LastRequeueReason = \"vacated from slot1@ws1: the owner policy preempted it\"" "$out"
col=$(q -a "$ID" | awk -v id="$ID" '$1 == id {print $8}')
if [ -n "$col" ] && [ "$col" != "-" ]; then pass "q shows the checkpoint ($col)"; else fail "q shows the checkpoint" "$(q -a "$ID")"; fi
# (By now the job may already run again on ws2: look at ws1's sandboxes only.)
on_ws1() { for p in $(pgrep -f '^\./counter 80 50$'); do readlink "/proc/$p/cwd"; done | grep -q "^$TMP/ws1/"; }
if ! on_ws1; then pass "nothing of the job is left on ws1"; else fail "nothing of the job is left on ws1"; fi

# ws2 (idle) takes it and resumes it from the checkpoint
start_startd ws2 "activity_sources: [load]" "benchmark: false" "memory: 1G" "checkpoint_dir: $TMP/ckpt"
if wait_for 20 in_history "$ID"; then pass "the job resumes on ws2 and completes"; else fail "the job resumes on ws2 and completes" "$(q -a "$ID"; tail -8 ws2/startd.log)"; fi
check_contains "ws2 restarted it from the image" "restarting the job from $TMP/ckpt/$ID/ckpt-" "$(cat ws2/startd.log)"
if cmp -s ref.txt count.out; then pass "its output is byte for byte that of an uninterrupted run ($(wc -l <count.out) lines)"; else fail "its output is byte for byte that of an uninterrupted run" "$(diff ref.txt count.out | head -5)"; fi
check_eq "stderr is empty" "" "$(cat count.err)"
hist=$(q -a --history -l "$ID")
check_contains "the history ad keeps the checkpoint count" "NumCheckpoints = 1" "$hist"
check_contains "and where it ran last" 'RemoteHost = "slot1@ws2"' "$hist"
events=$(sqlite3 s/queue.db "SELECT event || ' ' || host FROM events WHERE cluster = ${ID%.*} ORDER BY rowid" | xargs)
check_eq "the queue recorded every event" \
	"started slot1@ws1 suspended slot1@ws1 checkpoint slot1@ws1 requeued slot1@ws1 started slot1@ws2 exited slot1@ws2" "$events"
finish
