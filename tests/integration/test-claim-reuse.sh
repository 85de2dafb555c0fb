#!/bin/bash
# Claim reuse (docs/running-jobs.md, "Claim reuse"): a shadow whose job
# completed keeps its claim and runs the owner's next matching job on
# it.  Twenty jobs of one user go through a one-slot startd on a single
# CLAIM, each output byte for byte right and each job once in the
# history; the job runs with no capabilities, groups or bounding set; a
# job of another user, or one whose requirements the slot does not
# meet, never rides on the claim; a job on a reused claim is still
# checkpointed and vacated on request and evicted when the owner comes
# back; a schedd killed mid-stream loses no job and duplicates none in
# the history; an executable changed between jobs runs as changed
# (executables travel by hash); claim_worklife 0 means one job per
# claim, and a claim older than claim_worklife takes no more jobs.
. "$(dirname "$0")/lib.sh"

COUNTER=$ROOT/bin/tests/programs/counter
[ -x "$COUNTER" ] || { echo "SKIP: $COUNTER not built"; exit 77; }

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds "claim_lease: 3s" "schedd_timeout: 1s" "max_suspend_time: 1s" "continue_idle_time: 1h"
start_startd ws1 "${STARTD_CONFIG[@]}"
WS1_PID=$STARTD_PID
if wait_for 10 states_are ws1 "Unclaimed"; then pass "ws1's slot is Unclaimed"; else fail "ws1's slot is Unclaimed" "$(pool status; tail ws1/startd.log)"; fi

# claims_on NAME: how many claims the startd NAME has accepted.
claims_on() { grep -c "Matched/Idle -> Claimed/Idle: claim accepted" "$1/startd.log"; }
# history_ids CLUSTER: the procs of CLUSTER in the history, one per line.
history_ids() { q -a --history 2>/dev/null | awk -v c="$1" 'index($1, c ".") == 1 && $6 == "C" {print $1}' | sort -V; }

# ---- twenty jobs, one claim ----
cat >many.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "echo job $1 of many; grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status >status.$1", "--", "$(Process)"]
output: many.$(Process).out
checkpoint: none
queue: 20
YAML
C=$(submit many.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
all_done() { [ "$(history_ids "$C" | wc -l)" -eq 20 ]; }
if wait_for 60 all_done; then pass "20 jobs of one user complete on a one-slot startd"; else fail "20 jobs of one user complete on a one-slot startd" "$(q -a | head; tail -5 s/schedd.log)"; fi
check_eq "one CLAIM for all of them" "1" "$(claims_on ws1)"
check_contains "the startd ran the 20th job on the same claim" ", job 20 of claim " "$(cat ws1/startd.log)"
check_eq "the schedd gave the claim 19 next jobs" "19" "$(grep -c "reuses the claim on slot1@ws1" s/schedd.log)"
bad=""
for p in $(seq 0 19); do
	cmp -s "many.$p.out" <(printf 'job %s of many\n' "$p") || bad="$bad $p"
done
check_eq "each job's stdout came home byte for byte" "" "$bad"
check_eq "each job is in the history once" "$(seq 0 19 | sed "s/^/$C./")" "$(history_ids "$C")"
check_eq "each completed once in the schedd's log" "20" "$(grep -c "job $C\.[0-9]* completed on" s/schedd.log)"
# the sandbox of every job on the claim, not only the first, drops
# everything (the status file came home as an output)
st=$(cat status.19)
uid=$(awk '/^Uid:/ {print $2}' <<<"$st")
if [ "$(id -u)" = 0 ]; then
	if [ -n "$uid" ] && [ "$uid" != 0 ]; then pass "the 20th job ran as a non-root user (uid $uid)"; else fail "the 20th job ran as a non-root user" "$st"; fi
	check_eq "with no supplementary groups" "Groups:" "$(grep '^Groups:' <<<"$st" | tr -d ' \t')"
	check_eq "and an empty bounding set" "CapBnd:	0000000000000000" "$(grep '^CapBnd:' <<<"$st")"
else
	check_eq "the 20th job ran as the startd's user" "$(id -u)" "$uid"
fi
check_eq "no effective, permitted, inheritable or ambient capabilities" \
	"CapInh:	0000000000000000 CapPrm:	0000000000000000 CapEff:	0000000000000000 CapAmb:	0000000000000000" \
	"$(grep -E '^Cap(Inh|Prm|Eff|Amb):' <<<"$st" | xargs -d '\n')"
check_eq "and no_new_privs" "NoNewPrivs:	1" "$(grep '^NoNewPrivs:' <<<"$st")"
check_eq "the executable travelled once: the startd keeps one copy" "1" "$(ls ws1/exec-cache | wc -l)"
if cmp -s ws1/exec-cache/* /bin/sh; then pass "byte for byte /bin/sh"; else fail "byte for byte /bin/sh" "$(ls -l ws1/exec-cache)"; fi
if wait_for 10 states_are ws1 "Unclaimed"; then pass "with no job left the claim is released: Unclaimed"; else fail "with no job left the claim is released: Unclaimed" "$(pool status)"; fi
check_contains "released by its shadow" "released: by its shadow" "$(cat ws1/startd.log)"

# ---- a changed executable runs as changed ----
printf '#!/bin/sh\necho version 1\n' >prog.sh
chmod 755 prog.sh
printf 'executable: prog.sh\noutput: prog.$(Cluster).out\ncheckpoint: none\n' >prog.yaml
P1=$(submit_id prog.yaml)
wait_for 15 in_history "$P1"
printf '#!/bin/sh\necho version 2, longer\n' >prog.sh
P2=$(submit_id prog.yaml)
wait_for 15 in_history "$P2"
check_eq "the first job ran the first version" "version 1" "$(cat "prog.${P1%.0}.out")"
check_eq "the job after the change ran the new one" "version 2, longer" "$(cat "prog.${P2%.0}.out")"
printf '#!/bin/sh\necho version 1\n' >prog.sh
P3=$(submit_id prog.yaml)
wait_for 15 in_history "$P3"
check_eq "and back" "version 1" "$(cat "prog.${P3%.0}.out")"

# ---- another user's job, and a job the slot does not suit, take a claim of their own ----
cat >mine.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "sleep 0.3; echo mine $1", "--", "$(Process)"]
output: mine.$(Process).out
checkpoint: none
queue: 3
YAML
cat >ws2only.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "echo on ws2"]
output: ws2only.out
requirements: TARGET.Name == "slot1@ws2"
checkpoint: none
YAML
ALICE=$(pool token create --user alice)
before=$(claims_on ws1)
M=$(submit mine.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
W=$(submit_id ws2only.yaml)
A=$(cd "$TMP" && KITE_SCHEDD=$SCHEDD_ADDR KITE_TOKEN=$ALICE submit mine.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
mine_done() { [ "$(history_ids "$M" | wc -l)" -eq 3 ] && [ "$(history_ids "$A" | wc -l)" -eq 3 ]; }
if wait_for 30 mine_done; then pass "three jobs of root and three of alice complete"; else fail "three jobs of root and three of alice complete" "$(q -a; tail -5 s/schedd.log)"; fi
# the claim each of them ran on
claims_of() { grep "job of $1 started" ws1/startd.log | tail -3 | sed 's/.*of claim //' | sort -u; }
check_eq "alice's three jobs shared one claim" "1" "$(claims_of alice | wc -l)"
check_eq "root's three shared one" "1" "$(claims_of root | wc -l)"
if [ "$(claims_of alice)" != "$(claims_of root)" ]; then pass "not the same one ($(claims_of alice), root's $(claims_of root))"; else fail "not the same one" "$(claims_of alice)"; fi
check_eq "the six jobs took two claims" "$((before + 2))" "$(claims_on ws1)"
for p in 0 1 2; do
	check_eq "root's and alice's outputs ($p)" "mine $p" "$(cat "mine.$p.out")"
done
check_eq "the job for ws2 did not ride on ws1's claim: still Idle" "I" "$(status_of "$W")"
check_not_contains "ws1 never ran it" "job $W " "$(grep -E "reuses the claim|matched to" s/schedd.log)"
start_startd ws2 "${STARTD_CONFIG[@]}"
if wait_for 15 in_history "$W"; then pass "it runs once ws2 is there"; else fail "it runs once ws2 is there" "$(q -a -l "$W" | grep -E 'Match|Status')"; fi
check_contains "on ws2" 'RemoteHost = "slot1@ws2"' "$(q -a --history -l "$W")"
check_eq "its output" "on ws2" "$(cat ws2only.out)"
kill "$STARTD_PID"; wait "$STARTD_PID" 2>/dev/null

# ---- pool ckpt and pool vacate reach a job on a reused claim ----
"$COUNTER" 100 50 >ref.txt || fail "the reference run failed"
cp "$COUNTER" counter
cat >count.yaml <<'YAML'
executable: counter
arguments: ["$(Process)00", "50"]
output: count.$(Process).out
checkpoint: preload
queue: 2
YAML
# Proc 0 counts no steps ("000") and ends at once; proc 1 counts 100
# steps on the claim proc 0 leaves it.
K=$(submit count.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
LONG=$K.1
if wait_for 60 status_is "$LONG" R; then pass "the long counter runs"; else fail "the long counter runs" "$(q -a | tail -3)"; fi
check_contains "on a reused claim" "job $LONG reuses the claim on slot1@ws1" "$(cat s/schedd.log)"
sleep 1
check_eq "pool ckpt" "job $LONG: asked to checkpoint" "$(pool ckpt "$LONG" 2>&1)"
has_ckpt() { q -a -l "$LONG" | grep -q "NumCheckpoints = 1"; }
if wait_for 10 has_ckpt; then pass "the job on the reused claim took a checkpoint"; else fail "the job on the reused claim took a checkpoint" "$(tail -5 ws1/startd.log)"; fi
check_eq "pool vacate" "job $LONG: asked to checkpoint and leave its machine" "$(pool vacate "$LONG" 2>&1)"
vacated() { q -a -l "$LONG" | grep -q 'LastRequeueReason = "vacated from slot1@ws1 on request"'; }
if wait_for 15 vacated; then pass "it left the reused claim with its checkpoint"; else fail "it left the reused claim with its checkpoint" "$(q -a -l "$LONG" | grep -E 'Requeue|Checkpoint|Status')"; fi
if wait_for 30 in_history "$LONG"; then pass "it resumed and completed"; else fail "it resumed and completed" "$(q -a "$LONG"; tail -5 ws1/startd.log)"; fi
check_contains "from its image" "restarting the job from " "$(cat ws1/startd.log)"
if cmp -s ref.txt "count.1.out"; then pass "its output is byte for byte that of an uninterrupted run"; else fail "its output is byte for byte that of an uninterrupted run" "$(diff ref.txt count.1.out | head -5)"; fi
check_eq "the short one's too" "ok: 0 steps" "$(cat count.0.out)"

# ---- the owner comes back to a job on a reused claim ----
cat >owner.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "[ $1 = 0 ] || sleep 60", "--", "$(Process)"]
checkpoint: none
queue: 2
YAML
O=$(submit owner.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
if wait_for 20 status_is "$O.1" R; then pass "the second job runs"; else fail "the second job runs" "$(q -a)"; fi
check_contains "on the first one's claim" "job $O.1 reuses the claim on slot1@ws1" "$(cat s/schedd.log)"
( for i in $(seq 1 60); do touch ws1/activity; sleep 0.1; done ) &
PIDS+=($!)
if wait_for 10 status_is "$O.1" I; then pass "the owner's return evicts it: Idle again"; else fail "the owner's return evicts it: Idle again" "$(q -a "$O.1"; tail -5 ws1/startd.log)"; fi
check_contains "the owner policy preempted it" 'LastRequeueReason = "vacated from slot1@ws1: the owner policy preempted it"' "$(q -a -l "$O.1")"
if wait_for 10 states_are ws1 "Owner"; then pass "the slot is the owner's"; else fail "the slot is the owner's" "$(pool status)"; fi
pool rm "$O.1" >/dev/null
wait "${PIDS[-1]}" 2>/dev/null
touch -d '-1 hour' ws1/activity
if wait_for 10 states_are ws1 "Unclaimed"; then pass "idle again: Unclaimed"; else fail "idle again: Unclaimed" "$(pool status)"; fi

# ---- the schedd dies mid-stream ----
cat >crash.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "sleep 0.2; echo crash $1", "--", "$(Process)"]
output: crash.$(Process).out
checkpoint: none
queue: 20
YAML
X=$(submit crash.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
some_done() { [ "$(history_ids "$X" | wc -l)" -ge 5 ]; }
wait_for 30 some_done
kill -9 "$SCHEDD_PID"
wait "$SCHEDD_PID" 2>/dev/null
n_before=$(grep -c "reuses the claim" s/schedd.log)
# on its old address, where the startds advertise
printf 'listen: %s\nnegotiator_interval: 1s\nclaim_poll_interval: 0.1s\n' "$SCHEDD_ADDR" >s/schedd.yaml
start_schedd "$TMP/s"
crash_done() { [ "$(history_ids "$X" | wc -l)" -eq 20 ]; }
if wait_for 60 crash_done; then pass "after a schedd killed mid-stream every job completes"; else fail "after a schedd killed mid-stream every job completes" "$(q -a | head; tail -5 s/schedd.log)"; fi
check_eq "each once in the history" "$(seq 0 19 | sed "s/^/$X./")" "$(history_ids "$X")"
bad=""
for p in $(seq 0 19); do
	cmp -s "crash.$p.out" <(printf 'crash %s\n' "$p") || bad="$bad $p"
done
check_eq "each output byte for byte" "" "$bad"
if [ "$(grep -c "reuses the claim" s/schedd.log)" -gt "$n_before" ]; then pass "the new schedd reuses claims too"; else fail "the new schedd reuses claims too"; fi

# ---- claim_worklife: 0 is one job per claim ----
kill "$WS1_PID" 2>/dev/null
start_startd ws3 "${STARTD_CONFIG[@]}" "claim_worklife: 0"
cat >once.yaml <<'YAML'
executable: /bin/true
checkpoint: none
queue: 3
YAML
N=$(submit once.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
once_done() { [ "$(history_ids "$N" | wc -l)" -eq 3 ]; }
if wait_for 30 once_done; then pass "claim_worklife 0: three jobs complete"; else fail "claim_worklife 0: three jobs complete" "$(q -a; tail -3 ws3/startd.log)"; fi
check_eq "each on a claim of its own" "3" "$(claims_on ws3)"
check_not_contains "none reused a claim" "job $N." "$(grep "reuses the claim" s/schedd.log)"
kill "$STARTD_PID"; wait "$STARTD_PID" 2>/dev/null

# ---- claim_worklife: a claim older than it takes no more jobs (the
# first job ends well within 2 s, the third well after) ----
start_startd ws4 "${STARTD_CONFIG[@]}" "claim_worklife: 2s"
cat >worklife.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "sleep 0.8; echo w $1", "--", "$(Process)"]
output: w.$(Process).out
checkpoint: none
queue: 4
YAML
L=$(submit worklife.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
worklife_done() { [ "$(history_ids "$L" | wc -l)" -eq 4 ]; }
if wait_for 30 worklife_done; then pass "claim_worklife 2s: four jobs of 0.8 s complete"; else fail "claim_worklife 2s: four jobs of 0.8 s complete" "$(q -a; tail -3 ws4/startd.log)"; fi
n=$(claims_on ws4)
if [ "$n" -ge 2 ] && [ "$n" -le 3 ]; then pass "on $n claims: a claim takes jobs while it is younger than 2 s"; else fail "a claim takes jobs while it is younger than 2 s" "claims: $n"; fi
check_contains "the first claim took a second job" "job $L.1 reuses the claim" "$(cat s/schedd.log)"

finish
