#!/bin/bash
# Running jobs survive a schedd restart (HTCondor's job leases and
# reconnection; docs/running-jobs.md, "Schedd restarts").  The schedd is
# SIGKILLed while jobs run and started again on its old address:
#  - a long job keeps running on its startd (the same process, never
#    started again), is shown Running throughout, completes with its
#    output byte for byte, once in the history, and its events and user
#    log tell of the disconnection and the reconnection;
#  - a job that completes while the schedd is down is recorded once,
#    when the schedd is back, and so is one that completes while the
#    schedd is frozen and then killed or stopped before it answers; a
#    schedd that wrote a completion down but died before answering the
#    shadow (KITE_FAULT=schedd-silent) releases the claim left behind;
#  - a job whose lease (JobLeaseDuration) runs out before the schedd is
#    back is killed by its startd and requeued, saying why;
#  - a checkpointed job vacated by its machine's owner while the schedd
#    is down is Idle with its checkpoint afterwards and resumes from it
#    elsewhere, its output byte for byte;
#  - a stream of short jobs on one reused claim, with the schedd killed
#    twice and stopped once, loses none and runs none twice.
. "$(dirname "$0")/lib.sh"

COUNTER=$ROOT/bin/tests/programs/counter
[ -x "$COUNTER" ] || { echo "SKIP: $COUNTER not built"; exit 77; }

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds "claim_lease: 3s" "schedd_timeout: 1s" "max_suspend_time: 1s" "continue_idle_time: 1h" \
	"checkpoint_dir: $TMP/ckpt"
cp "$COUNTER" counter

# kill_schedd: SIGKILL, as a crash (its shadows get SIGHUP from the kernel).
kill_schedd() { kill -9 "$SCHEDD_PID"; wait "$SCHEDD_PID" 2>/dev/null; }
# restart_schedd: on its old address, where the startds advertise.
restart_schedd() {
	printf 'listen: %s\nnegotiator_interval: 1s\nclaim_poll_interval: 0.1s\n' "$SCHEDD_ADDR" >s/schedd.yaml
	start_schedd "$TMP/s"
}
# job_pid MACHINE N: the pid of the Nth job MACHINE's startd started.
job_pid() { grep " started as " "$1/startd.log" | sed -n "$2s/.*(pid \([0-9]*\)).*/\1/p"; }
starts_on() { grep -c " started as " "$1/startd.log"; }
starts_at_least() { [ "$(starts_on "$1")" -ge "$2" ]; }
# story ID: the job's events (name and machine), oldest first, from q -l.
story() { { q -a -l "$1" 2>/dev/null || q -a --history -l "$1"; } | awk '/^#   / {print $4}' | xargs; }
# has_started: job $ID's "started" event is on disk (an event the schedd
# heard but had not written when it died is lost with it).
has_started() { story "$ID" | grep -qw started; }
history_rows() { q -a --history 2>/dev/null | awk -v id="$1" '$1 == id' | wc -l; }

start_startd ws1 "${STARTD_CONFIG[@]}"
WS1_PID=$STARTD_PID
if wait_for 10 states_are ws1 "Unclaimed"; then pass "ws1's slot is Unclaimed"; else fail "ws1's slot is Unclaimed" "$(pool status; tail ws1/startd.log)"; fi

# ---- a long job goes on through a schedd crash ----
"$COUNTER" 60 100 >ref60.txt
cat >long.yaml <<'YAML'
executable: counter
arguments: ["60", "100"]
output: long.out
error: long.err
log: long.log
checkpoint: none
YAML
ID=$(submit_id long.yaml)
if wait_for 15 status_is "$ID" R; then pass "the long job runs"; else fail "the long job runs" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
wait_for 5 starts_at_least ws1 1
PID=$(job_pid ws1 1)
sleep 1
kill_schedd
if wait_for 5 grep -q "lost its schedd; the claim and its job wait 2400 s (the job lease)" ws1/startd.log; then pass "its shadow hands the claim to the job lease (40 min by default)"; else fail "its shadow hands the claim to the job lease" "$(tail -5 ws1/startd.log)"; fi
sleep 1
if [ -n "$PID" ] && [ -d "/proc/$PID" ]; then pass "with the schedd dead the job still runs (pid $PID)"; else fail "with the schedd dead the job still runs" "pid '$PID'; $(tail -5 ws1/startd.log)"; fi
restart_schedd
check_eq "the restarted schedd shows it Running" "R" "$(status_of "$ID")"
if wait_for 10 grep -q "reconnected by a new shadow after .* job $ID (pid $PID) is running" ws1/startd.log; then pass "a new shadow reconnects to the same process"; else fail "a new shadow reconnects to the same process" "$(tail -5 ws1/startd.log; tail -5 s/schedd.log)"; fi
check_eq "still Running after the reconnection" "R" "$(status_of "$ID")"
if wait_for 20 in_history "$ID"; then pass "the job completes"; else fail "the job completes" "$(q -a -l "$ID" | tail; tail -5 ws1/startd.log)"; fi
check_contains "the process that completed is the one started before the crash" "job (pid $PID) exited with status 0" "$(cat ws1/startd.log)"
check_eq "the job was started once" "1" "$(starts_on ws1)"
if cmp -s ref60.txt long.out; then pass "its output is byte for byte that of an uninterrupted run ($(wc -l <long.out) lines)"; else fail "its output is byte for byte that of an uninterrupted run" "$(diff ref60.txt long.out | head -5)"; fi
check_eq "stderr is empty" "" "$(cat long.err)"
check_eq "exactly one history record" "1" "$(history_rows "$ID")"
check_eq "its events: submitted, started, disconnected, reconnected, exited" "submitted started disconnected reconnected exited" "$(story "$ID")"
check_contains "q -l tells how the reconnection went" \
	"$(printf '%-19s %-16s %s' reconnected slot1@ws1 "job pid $PID on slot1@ws1 is running;")" "$(q -a --history -l "$ID")"
wait_for 5 grep -q '^005 ' long.log
log=$(cat long.log)
tag=$(printf '(%03d.000.000)' "${ID%.*}")
check_contains "the user log: 022 Job disconnected, as Condor's tools parse it" "022 $tag $(date +%Y-)" "$log"
check_contains "with Condor's words" "Job disconnected, attempting to reconnect" "$(grep '^022 ' long.log)"
check_contains "the user log: 024 Job reconnected" "Job reconnected" "$(grep '^024 ' long.log)"
check_eq "and one 005 Job terminated" "1" "$(grep -c '^005 ' long.log)"
if wait_for 5 states_are ws1 "Unclaimed"; then pass "the slot is Unclaimed again"; else fail "the slot is Unclaimed again" "$(pool status)"; fi

# ---- a job completes while the schedd is down ----
cat >quick.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "echo begin; sleep 2; echo end"]
output: quick.out
checkpoint: none
YAML
ID=$(submit_id quick.yaml)
wait_for 10 starts_at_least ws1 2
PID=$(job_pid ws1 2)
wait_for 5 has_started
kill_schedd
if wait_for 10 grep -q "job (pid $PID) exited with status 0" ws1/startd.log; then pass "the job completes while the schedd is down"; else fail "the job completes while the schedd is down" "$(tail -5 ws1/startd.log)"; fi
check_not_contains "the startd keeps the claim, outputs and all" "released" "$(tail -n 3 ws1/startd.log)"
restart_schedd
if wait_for 10 in_history "$ID"; then pass "the restarted schedd records its completion"; else fail "the restarted schedd records its completion" "$(q -a -l "$ID" | tail -5; tail -5 s/schedd.log)"; fi
check_eq "its output came home" "$(printf 'begin\nend')" "$(cat quick.out)"
check_eq "exactly one history record" "1" "$(history_rows "$ID")"
check_eq "its events: started, disconnected, reconnected (exited), exited once" "started disconnected reconnected exited" "$(story "$ID")"
check_contains "the reconnection found it exited" "on slot1@ws1 is exited;" "$(q -a --history -l "$ID")"
check_eq "it was not started again" "2" "$(starts_on ws1)"
if wait_for 5 states_are ws1 "Unclaimed"; then pass "the slot is Unclaimed again"; else fail "the slot is Unclaimed again" "$(pool status)"; fi

# ---- a job completes while the schedd is frozen: its shadow has brought
# the outputs home and reported, and the schedd goes before it writes the
# outcome down (SIGKILL), or writes it as it stops (SIGTERM) but never
# answers the shadow.  Either way the completion is recorded once and the
# slot is free again at once, not after the job lease.
frozen_case() {
	local how=$1 n=$2
	cat >frozen.yaml <<YAML
executable: /bin/sh
arguments: ["-c", "echo frozen $how; sleep 1"]
output: frozen-$how.out
checkpoint: none
YAML
	ID=$(submit_id frozen.yaml)
	wait_for 10 starts_at_least ws1 "$n"
	PID=$(job_pid ws1 "$n")
	wait_for 5 has_started
	kill -STOP "$SCHEDD_PID"
	wait_for 10 grep -q "job (pid $PID) exited with status 0" ws1/startd.log
	if wait_for 5 test -s "frozen-$how.out"; then pass "$how: the shadow brought the output home while the schedd was frozen"; else fail "$how: the shadow brought the output home while the schedd was frozen"; fi
	sleep 0.3
	if [ "$how" = kill ]; then
		kill -9 "$SCHEDD_PID"
	else
		kill -TERM "$SCHEDD_PID"; kill -CONT "$SCHEDD_PID"
	fi
	wait "$SCHEDD_PID" 2>/dev/null
	restart_schedd
	if wait_for 10 in_history "$ID"; then pass "$how: the completion is recorded"; else fail "$how: the completion is recorded" "$(q -a -l "$ID" | tail -5; tail -5 s/schedd.log)"; fi
	check_eq "$how: once" "1" "$(history_rows "$ID")"
	check_eq "$how: exited once among its events" "1" "$(story "$ID" | grep -o exited | wc -l)"
	check_eq "$how: its output" "frozen $how" "$(cat "frozen-$how.out")"
	check_eq "$how: it was not started again" "$n" "$(starts_on ws1)"
	if wait_for 5 states_are ws1 "Unclaimed"; then pass "$how: the slot is free again at once"; else fail "$how: the slot is free again at once" "$(pool status; tail -5 ws1/startd.log)"; fi
}
frozen_case kill 3
frozen_case term 4

# ---- the schedd writes a completion down and dies before it answers the
# shadow (KITE_FAULT=schedd-silent: it never answers): the shadow leaves
# the claim, finished job and all, to the lease; the restarted schedd
# finds the job done and releases the claim at once.
kill_schedd
KITE_FAULT=schedd-silent restart_schedd
cat >silent.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "echo silent"]
output: silent.out
checkpoint: none
YAML
ID=$(submit_id silent.yaml)
if wait_for 10 in_history "$ID"; then pass "silent: the completion is on disk"; else fail "silent: the completion is on disk" "$(q -a "$ID")"; fi
sleep 0.3
check_not_contains "silent: the shadow, unanswered, holds the claim" "released" "$(tail -n 2 ws1/startd.log)"
lines=$(wc -l <ws1/startd.log)
kill_schedd
left_to_lease() { tail -n +"$((lines + 1))" ws1/startd.log | grep -q "lost its schedd"; }
if wait_for 5 left_to_lease; then pass "silent: the schedd dies: the shadow leaves the claim to the lease"; else fail "silent: the schedd dies: the shadow leaves the claim to the lease" "$(tail -3 ws1/startd.log)"; fi
restart_schedd
if wait_for 5 grep -q "job $ID: its outcome is recorded; releasing the claim on slot1@ws1 its shadow left" s/schedd.log; then pass "silent: the restarted schedd releases the claim"; else fail "silent: the restarted schedd releases the claim" "$(tail -5 s/schedd.log)"; fi
if wait_for 5 states_are ws1 "Unclaimed"; then pass "silent: the slot is free again at once"; else fail "silent: the slot is free again at once" "$(pool status; tail -5 ws1/startd.log)"; fi
check_eq "silent: the job completed once" "1" "$(history_rows "$ID")"
check_eq "silent: its output" "silent" "$(cat silent.out)"

# ---- a stream of short jobs on one reused claim, the schedd killed three times ----
# (once stopped cleanly: a schedd restarted to upgrade it costs nothing either)
cat >stream.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "sleep 0.2; echo stream $1", "--", "$(Process)"]
output: stream.$(Process).out
checkpoint: none
queue: 20
YAML
starts_before=$(starts_on ws1)
X=$(submit stream.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
history_ids() { q -a --history 2>/dev/null | awk -v c="$1" 'index($1, c ".") == 1 && $6 == "C" {print $1}' | sort -V; }
done_at_least() { [ "$(history_ids "$X" | wc -l)" -ge "$1" ]; }
# SIGKILL, a clean stop (SIGTERM: the schedd tells its shadows to go), SIGKILL
for kill in "9 3" "15 8" "9 13"; do
	set -- $kill
	wait_for 30 done_at_least "$2"
	sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
	kill -"$1" "$SCHEDD_PID"; wait "$SCHEDD_PID" 2>/dev/null
	sleep 0.3
	restart_schedd
done
if wait_for 60 done_at_least 20; then pass "every job of the stream completes across two schedd kills and a stop"; else fail "every job of the stream completes across two schedd kills and a stop" "$(q -a | head; tail -5 s/schedd.log)"; fi
check_eq "each once in the history" "$(seq 0 19 | sed "s/^/$X./")" "$(history_ids "$X")"
bad=""
for p in $(seq 0 19); do cmp -s "stream.$p.out" <(printf 'stream %s\n' "$p") || bad="$bad $p"; done
check_eq "each output byte for byte" "" "$bad"
check_eq "the startd started each job once (20 starts)" "20" "$(($(starts_on ws1) - starts_before))"
check_not_contains "no claim ran out for want of a shadow" "not heard from within claim_lease" "$(cat ws1/startd.log)"
if wait_for 10 states_are ws1 "Unclaimed"; then pass "the slot is Unclaimed again"; else fail "the slot is Unclaimed again" "$(pool status; tail -5 ws1/startd.log)"; fi

# ---- the lease runs out before the schedd is back ----
# The job waits for ws2 (not started yet) while its lease is set to 2 s.
cat >lease.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "sleep 60"]
checkpoint: none
requirements: TARGET.Name == "slot1@ws2"
YAML
ID=$(submit_id lease.yaml)
out=$(pool edit "$ID" JobLeaseDuration 2 2>&1); check_status "pool edit JobLeaseDuration ($out)" 0 $?
start_startd ws2 "${STARTD_CONFIG[@]}"
WS2_PID=$STARTD_PID
if wait_for 15 status_is "$ID" R; then pass "the job runs on ws2"; else fail "the job runs on ws2" "$(q -a -l "$ID" | tail -3)"; fi
wait_for 5 starts_at_least ws2 1
PID=$(job_pid ws2 1)
kill_schedd
if wait_for 5 grep -q "lost its schedd; the claim and its job wait 2 s (the job lease)" ws2/startd.log; then pass "its lease is the job's JobLeaseDuration"; else fail "its lease is the job's JobLeaseDuration" "$(tail -5 ws2/startd.log)"; fi
if wait_for 10 grep -q "released: no shadow reconnected within its job lease" ws2/startd.log; then pass "nobody reconnects: the startd gives the claim up"; else fail "nobody reconnects: the startd gives the claim up" "$(tail -5 ws2/startd.log)"; fi
if wait_for 5 grep -q "job (pid $PID) killed by signal 9" ws2/startd.log; then pass "and kills the job (not checkpointed)"; else fail "and kills the job (not checkpointed)" "$(tail -5 ws2/startd.log)"; fi
restart_schedd
reason="reconnecting to slot1@ws2 failed: no such claim (its job lease ran out, or the startd restarted)"
if wait_for 10 grep -q "LastRequeueReason = \"$reason\"" <(q -a -l "$ID"); then pass "the restarted schedd requeues it, saying why"; else fail "the restarted schedd requeues it, saying why" "$(q -a -l "$ID" | grep -i requeue; tail -5 s/schedd.log)"; fi
check_contains "a reconnect-failed event" "reconnect-failed" "$(q -a -l "$ID" | grep '^#   ')"
check_not_contains "not counted as a failed run" "NumRetries" "$(q -a -l "$ID")"
pool rm "$ID" >/dev/null
# (requeued, it may have started again on ws2 before it was removed)
wait_for 10 states_are ws2 "Unclaimed"
n=$(($(starts_on ws2) + 1))
# A checkpointed job whose lease runs out is vacated (checkpointed), not
# killed.  (Its lease from the job file, this time.)
cat >lease-ckpt.yaml <<'YAML'
executable: counter
arguments: ["400", "50"]
requirements: TARGET.Name == "slot1@ws2"
job_lease_duration: 2s
YAML
ID=$(submit_id lease-ckpt.yaml)
check_contains "the job file's job_lease_duration is its JobLeaseDuration" "JobLeaseDuration = 2" "$(q -a -l "$ID")"
if wait_for 15 status_is "$ID" R; then pass "a checkpointed job runs on ws2"; else fail "a checkpointed job runs on ws2" "$(q -a -l "$ID" | tail -3)"; fi
wait_for 5 starts_at_least ws2 "$n"
PID=$(job_pid ws2 "$n")
kill_schedd
if wait_for 10 grep -q "vacating job (pid $PID) of claim .*: checkpoint and exit" ws2/startd.log; then pass "its lease runs out: the startd vacates it"; else fail "its lease runs out: the startd vacates it" "$(tail -5 ws2/startd.log)"; fi
if wait_for 10 grep -q "job (pid $PID) exited with status 85" ws2/startd.log; then pass "and it leaves with a checkpoint"; else fail "and it leaves with a checkpoint" "$(tail -5 ws2/startd.log)"; fi
restart_schedd
if wait_for 10 grep -q "LastRequeueReason = \"$reason\"" <(q -a -l "$ID"); then pass "the restarted schedd requeues it too"; else fail "the restarted schedd requeues it too" "$(q -a -l "$ID" | grep -i requeue; tail -5 s/schedd.log)"; fi
pool rm "$ID" >/dev/null
kill "$WS2_PID"; wait "$WS2_PID" 2>/dev/null

# ---- a checkpointed job vacated by its owner while the schedd is down ----
"$COUNTER" 80 50 >ref80.txt
cat >ckpt.yaml <<'YAML'
executable: counter
arguments: ["80", "50"]
output: ckpt.out
error: ckpt.err
YAML
ID=$(submit_id ckpt.yaml)
if wait_for 15 status_is "$ID" R; then pass "a checkpointed job runs on ws1"; else fail "a checkpointed job runs on ws1" "$(q -a "$ID")"; fi
wait_for 5 starts_at_least ws1 "$((starts_before + 21))"
sleep 1.5
wait_for 5 has_started
kill_schedd
# ws1's owner comes back and stays until the end
( while [ ! -e "$TMP/owner-gone" ]; do touch ws1/activity; sleep 0.1; done ) &
PIDS+=($!)
if wait_for 15 grep -q "exited with status 85" ws1/startd.log; then pass "with the schedd down, the owner's return vacates it (checkpointed)"; else fail "with the schedd down, the owner's return vacates it" "$(tail -5 ws1/startd.log)"; fi
restart_schedd
if wait_for 10 status_is "$ID" I; then pass "after the restart it is Idle"; else fail "after the restart it is Idle" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
out=$(q -a -l "$ID")
check_contains "with its checkpoint" "NumCheckpoints = 1" "$out"
check_contains "the image" "LastCheckpointImage = \"$TMP/ckpt/" "$out"
check_contains "and why it left" "LastRequeueReason = \"vacated from slot1@ws1: the owner policy preempted it\"" "$out"
check_eq "its events" "checkpoint-interval started disconnected reconnected checkpoint requeued" "$(story "$ID")"
start_startd ws3 "${STARTD_CONFIG[@]}"
if wait_for 20 in_history "$ID"; then pass "it resumes on ws3 and completes"; else fail "it resumes on ws3 and completes" "$(q -a "$ID"; tail -5 ws3/startd.log)"; fi
check_contains "from its checkpoint" "restarting the job from $TMP/ckpt/" "$(cat ws3/startd.log)"
if cmp -s ref80.txt ckpt.out; then pass "its output is byte for byte that of an uninterrupted run"; else fail "its output is byte for byte that of an uninterrupted run" "$(diff ref80.txt ckpt.out | head -5)"; fi
check_eq "exactly one history record" "1" "$(history_rows "$ID")"
touch "$TMP/owner-gone"

finish
