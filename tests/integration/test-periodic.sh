#!/bin/bash
# Jobs' own periodic expressions (periodic_hold, periodic_release,
# periodic_remove; Condor's PeriodicHold, …), evaluated by the schedd every
# periodic_expr_interval with the job as MY: an idle job is held with
# Condor's reason and HoldReasonCode 3; a held job is released; a running
# job is removed and its process stops; a job whose expressions stay
# false is left alone; a bad expression is refused at submit.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s" "periodic_expr_interval: 0.3s"
cd "$TMP"
job_startds
start_startd ws1 "${STARTD_CONFIG[@]}"
field() { q -a ${3:+--history} -l "$1" | sed -n "s/^$2 = //p"; }

# ---- held: an idle job waiting over a second ----
cat >hold.yaml <<'YAML'
executable: /bin/true
requirements: false
periodic_hold: time() - QDate >= 1
YAML
HOLD=$(submit_id hold.yaml)
if wait_for 10 status_is "$HOLD" H; then pass "periodic_hold holds the idle job"; else fail "periodic_hold holds the idle job" "$(q -a -l "$HOLD" | tail -5)"; fi
check_eq "with Condor's reason" "\"The job attribute PeriodicHold expression 'time() - QDate >= 1' evaluated to TRUE\"" "$(field "$HOLD" HoldReason)"
check_eq "and HoldReasonCode 3" "3" "$(field "$HOLD" HoldReasonCode)"
check_contains "the schedd says so in its log" "job $HOLD held: The job attribute PeriodicHold" "$(cat s/schedd.log)"

# ---- released: a job held by its owner, for over a second ----
cat >release.yaml <<'YAML'
executable: /bin/true
requirements: false
periodic_release: time() - EnteredCurrentStatus >= 1
YAML
REL=$(submit_id release.yaml)
pool hold "$REL" >/dev/null
check_eq "the owner holds it" "H" "$(status_of "$REL")"
if wait_for 10 status_is "$REL" I; then pass "periodic_release releases it"; else fail "periodic_release releases it" "$(q -a -l "$REL" | tail -5)"; fi
check_contains "the release is among its events" "released" "$(q -a -l "$REL" | grep '^#')"

# ---- removed while running: the job stops ----
cat >remove.yaml <<'YAML'
executable: /bin/sleep
arguments: [60]
checkpoint: none
periodic_remove: JobStatus == 2 && time() - JobCurrentStartDate >= 2
YAML
RM=$(submit_id remove.yaml)
if wait_for 15 status_is "$RM" R; then pass "the job to remove runs"; else fail "the job to remove runs" "$(q -a -l "$RM" | tail -3)"; fi
if wait_for 10 bash -c "q -a --history $RM | grep -q '^$RM '"; then pass "periodic_remove removes the running job"; else fail "periodic_remove removes the running job" "$(q -a -l "$RM" | tail -5)"; fi
check_eq "RemoveReason is the expression" "\"The job attribute PeriodicRemove expression 'JobStatus == 2 && time() - JobCurrentStartDate >= 2' evaluated to TRUE\"" "$(field "$RM" RemoveReason h)"
check_eq "RemovedBy is the schedd" '"schedd"' "$(field "$RM" RemovedBy h)"
if wait_for 10 none_of_ours '^/bin/sleep 60$'; then pass "its process stops"; else fail "its process stops" "$(our_procs 'sleep 60')"; fi
if wait_for 10 states_are ws1 Unclaimed; then pass "its slot is free again"; else fail "its slot is free again" "$(pool status)"; fi

# ---- left alone: expressions that stay false ----
cat >calm.yaml <<'YAML'
executable: /bin/true
requirements: false
periodic_hold: time() - QDate > 3600
periodic_remove: false
YAML
CALM=$(submit_id calm.yaml)
sleep 1.5
check_eq "a job whose expressions are false stays idle" "I" "$(status_of "$CALM")"

# ---- many jobs: evaluated in slices (a query names at most 10,000) ----
printf 'executable: /bin/true\nrequirements: false\nperiodic_hold: ProcId %% 1000 == 7\nqueue: 12000\n' >many.yaml
MANY=$(submit_id many.yaml)
if wait_for 10 bash -c "[ \$(q --held | grep -c '^${MANY%.*}\.') = 12 ]"; then pass "12 of 12,000 jobs held, the last beyond the first 10,000"; else fail "12 of 12,000 jobs held" "$(q --held | tail -3)"; fi
check_contains "including 11007" "${MANY%.*}.11007 " "$(q --held)"
pool rm "${MANY%.*}" >/dev/null

# ---- a bad expression is refused at submit, naming file and line ----
printf 'executable: /bin/true\nperiodic_remove: time( >\n' >bad.yaml
out=$(submit bad.yaml 2>&1); rc=$?
check_status "a bad periodic_remove is refused" 1 $rc
check_contains "naming file and line" "bad.yaml:2:" "$out"
finish
