#!/bin/bash
# What a vacated job wrote and closed goes with it (issue 6: "its output
# files are byte for byte those of a run that was never interrupted").  A
# checkpoint holds the job's memory and the files it has open; a file it
# wrote and closed before the vacate is in no image, and the run that
# resumes elsewhere is in a fresh sandbox.  So the startd sends those
# files back with the vacate, the shadow keeps them in the schedd's spool
# (STATE/spool/OWNER/CLUSTER.PROC), and the resuming run gets them back
# in its sandbox, as outputs again.  tests/programs/phases writes a file
# every ten steps, closes it, and at the end checks them all.
. "$(dirname "$0")/lib.sh"

PHASES=$ROOT/bin/tests/programs/phases
[ -x "$PHASES" ] || { echo "SKIP: $PHASES not built"; exit 77; }

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
chmod 755 "$TMP"
mkdir -m 1777 ckpt
cp "$PHASES" phases
ACTIVITY_AGE='-1 hour'
POLL=0.1s
START_IDLE=1s
CONFIG=("activity_sources: [load]" "benchmark: false" "memory: 1G" "max_suspend_time: 0s" "continue_idle_time: 1h" "checkpoint_dir: $TMP/ckpt")
start_startd ws1 "${CONFIG[@]}"
WS1=$STARTD_PID
cat >phases.yaml <<'YAML'
executable: phases
arguments: ["60", "100"]
output: phases.out
error: phases.err
YAML
ID=$(submit_id phases.yaml)
SPOOL=$TMP/s/spool/$(id -un)/$ID
if wait_for 15 status_is "$ID" R; then pass "the job runs on ws1"; else fail "the job runs on ws1" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
wait_for 10 bash -c "ls $TMP/ws1/execute/*/phase-20.txt" >/dev/null 2>&1 || fail "the job did not reach step 20" "$(ls -R ws1/execute | head)"

# its owner comes back: vacated at once (max_suspend_time 0)
( for i in $(seq 1 100); do touch ws1/activity; sleep 0.1; done ) &
PIDS+=($!)
if wait_for 15 status_is "$ID" I; then pass "the owner's return vacates it"; else fail "the owner's return vacates it" "$(q -a "$ID"; tail -5 ws1/startd.log)"; fi
kill "$WS1"; wait "$WS1" 2>/dev/null
check_eq "the files it wrote and closed wait in the spool" "phase-0.txt phase-10.txt phase-20.txt" "$(ls "$SPOOL" 2>/dev/null | grep '^phase-' | sort -V | head -3 | xargs)"
check_eq "stdout and stderr are not spooled (the checkpoint holds them)" "" "$(ls -A "$SPOOL" 2>/dev/null | grep -v '^phase-')"
check_eq "a spooled file is as the job wrote it" "phase 10 of 60" "$(cat "$SPOOL/phase-10.txt" 2>/dev/null)"
check_eq "the spool is the job's owner's alone" "700" "$(stat -c %a "$(dirname "$SPOOL")")"

# ws2 takes it, resumes it from the checkpoint with its files back
start_startd ws2 "${CONFIG[@]}"
if wait_for 30 in_history "$ID"; then pass "it resumes on ws2 and completes"; else fail "it resumes on ws2 and completes" "$(q -a -l "$ID" | tail -5; tail -5 ws2/startd.log)"; fi
check_contains "ws2 restarted it from the checkpoint" "restarting the job from" "$(cat ws2/startd.log)"
check_eq "the job found every file it wrote on ws1 (exit 0)" "ok: 60 steps, 6 phase files" "$(tail -1 phases.out)"
check_eq "its stderr is empty" "" "$(cat phases.err 2>/dev/null)"
for n in 0 10 20 30 40 50; do
	[ "$(cat phase-$n.txt 2>/dev/null)" = "phase $n of 60" ] || fail "phase-$n.txt came home" "$(cat phase-$n.txt 2>&1)"
done
pass "all six phase files came home, those of ws1 and those of ws2"
if wait_for 5 bash -c "[ ! -e $SPOOL ]"; then pass "the spool is emptied when the job completes"; else fail "the spool is emptied when the job completes" "$(ls -la "$SPOOL")"; fi

# a removed job's spool goes too
cat >phases2.yaml <<'YAML'
executable: phases
arguments: ["600", "100"]
output: phases2.out
YAML
ID2=$(submit_id phases2.yaml)
SPOOL2=$TMP/s/spool/$(id -un)/$ID2
if wait_for 15 status_is "$ID2" R; then pass "a second job runs on ws2"; else fail "a second job runs on ws2" "$(q -a "$ID2")"; fi
wait_for 10 bash -c "ls $TMP/ws2/execute/*/phase-10.txt" >/dev/null 2>&1
pool vacate "$ID2" >/dev/null
if wait_for 15 bash -c "[ -e $SPOOL2/phase-10.txt ]"; then pass "pool vacate spools its files too"; else fail "pool vacate spools its files too" "$(ls -la "$(dirname "$SPOOL2")")"; fi
pool rm "$ID2" >/dev/null
if wait_for 5 bash -c "[ ! -e $SPOOL2 ]"; then pass "pool rm drops its spool"; else fail "pool rm drops its spool" "$(ls -la "$SPOOL2")"; fi
finish
