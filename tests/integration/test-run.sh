#!/bin/bash
# Running jobs end to end: a real schedd (negotiator, shadows) and real
# startds on loopback in a temporary directory, with activity files
# nobody touches and thresholds of seconds.  A job runs on an idle slot
# and completes with its outputs home byte for byte; jobs nothing can
# run stay Idle; three procs share two slots; a startd killed mid-run
# sends its job back to Idle; a root startd never runs a job as root;
# a job goes on through a schedd crash.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
# Startds (lib.sh's job_startds) with machines idle from the start and
# short thresholds.  A startd kills the job of a silent shadow after
# claim_lease; its shadow gives up after ClaimLease (3 + 0.1 + 4 × 1 s:
# 8 s), see running-jobs.md.
job_startds "claim_lease: 3s" "schedd_timeout: 1s"

# status_of, status_is and in_history come from lib.sh.

start_startd ws1 "${STARTD_CONFIG[@]}" "slots: 2"
WS1_PID=$STARTD_PID
if wait_for 10 states_are ws1 "Unclaimed Unclaimed"; then pass "ws1's two slots are Unclaimed"; else fail "ws1's two slots are Unclaimed" "$(pool status; tail ws1/startd.log)"; fi

# ---- a job runs and completes ----
cat >hello.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "echo hello $1; echo err >&2", "--", "x"]
output: hello.out
error: hello.err
YAML
cat >whoami.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "id -u; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status"]
output: whoami.out
YAML
WHO=$(submit whoami.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
out=$(submit hello.yaml 2>&1); rc=$?
check_status "submit hello" 0 $rc
ID=$(echo "$out" | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 15 in_history "$ID"; then pass "the job runs and completes"; else fail "the job runs and completes" "$(q -a -l "$ID" | grep -i hold; tail -5 s/schedd.log; tail -5 ws1/startd.log)"; fi
if cmp -s hello.out <(printf 'hello x\n'); then pass "stdout came home byte for byte"; else fail "stdout came home byte for byte" "$(od -c hello.out | head -3)"; fi
if cmp -s hello.err <(printf 'err\n'); then pass "stderr came home byte for byte"; else fail "stderr came home byte for byte" "$(od -c hello.err | head -3)"; fi
if wait_for 10 in_history "$WHO"; then pass "a second job completes"; else fail "a second job completes" "$(q -a "$WHO")"; fi
uid=$(head -1 whoami.out)
if [ "$(id -u)" = 0 ]; then
	if [ -n "$uid" ] && [ "$uid" != 0 ]; then pass "a root startd ran the job as a non-root user (uid $uid)"; else fail "a root startd ran the job as a non-root user" "id -u printed: $uid"; fi
else
	check_eq "the job runs as the startd's user" "$(id -u)" "$uid"
fi
check_eq "the job has no capabilities" "CapEff:	0000000000000000" "$(grep CapEff whoami.out)"
check_eq "and no_new_privs" "NoNewPrivs:	1" "$(grep NoNewPrivs whoami.out)"
check_eq "q no longer lists it" "gone" "$(status_of "$ID")"
hist=$(q -a --history -l "$ID")
check_contains "the history says Completed" "JobStatus = 4" "$hist"
check_contains "with its exit code" "ExitCode = 0" "$hist"
check_contains "and a completion date" "CompletionDate = " "$hist"
check_contains "and where it ran" 'RemoteHost = "slot' "$hist"
check_contains "q --history shows it completed (C)" " C " "$(q -a --history "$ID")"
check_contains "the startd logged the identity" "started as" "$(cat ws1/startd.log)"
if wait_for 5 states_are ws1 "Unclaimed Unclaimed"; then pass "the slot is Unclaimed again"; else fail "the slot is Unclaimed again" "$(pool status)"; fi
check_contains "the slot went Matched" "Unclaimed/Idle -> Matched/Idle" "$(cat ws1/startd.log)"
check_contains "then Claimed/Busy" "Claimed/Idle -> Claimed/Busy: job started" "$(cat ws1/startd.log)"
check_eq "the sandbox was removed" "" "$(ls ws1/execute 2>/dev/null)"

# ---- an exit code and a failing job ----
cat >fail.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "exit 3"]
YAML
ID=$(submit fail.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 15 in_history "$ID"; then pass "a failing job completes"; else fail "a failing job completes" "$(q -a "$ID")"; fi
check_contains "with ExitCode 3" "ExitCode = 3" "$(q -a --history -l "$ID")"

# ---- a job killed by a signal is retried, then held ----
cat >crash.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "kill -9 $$$$"]  # $$ is a literal $ in job files
max_retries: 1
YAML
ID=$(submit crash.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 15 status_is "$ID" H; then pass "a job killed by a signal is held after max_retries"; else fail "a job killed by a signal is held after max_retries" "$(q -a -l "$ID" | grep -i 'retr\|hold')"; fi
out=$(q -a -l "$ID")
check_contains "it was retried once" "NumRetries = 1" "$out"
check_contains "the hold says why" 'HoldReason = "killed by signal 9 on slot' "$out"
check_contains "and how often" "it failed 2 times (max_retries is 1)" "$out"
pool rm "$ID" >/dev/null

# ---- input files out, output files back; a missing input holds ----
printf 'some input\n' >in.txt
printf 'data\n' >extra.dat
cat >files.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "cat; cat extra.dat >result.txt"]
input: in.txt
transfer_input_files: [extra.dat]
output: files.out
YAML
ID=$(submit files.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 15 in_history "$ID"; then pass "a job with input files completes"; else fail "a job with input files completes" "$(q -a -l "$ID" | grep -i hold)"; fi
check_eq "its stdin was the input file" "some input" "$(cat files.out)"
check_eq "a file it wrote came back to initial_dir" "data" "$(cat result.txt 2>&1)"
cat >missing.yaml <<'YAML'
executable: /bin/true
transfer_input_files: [missing.$(Process)]
YAML
ID=$(submit missing.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 15 status_is "$ID" H; then pass "a missing input file holds the job"; else fail "a missing input file holds the job" "$(q -a "$ID")"; fi
check_contains "with a reason a person can act on" "missing.0: No such file or directory" "$(q -a --held "$ID")"
check_contains "and Condor's code for an input transfer error" "HoldReasonCode = 13" "$(q -a -l "$ID")"
pool rm "$ID" >/dev/null

# ---- jobs nothing can run stay Idle ----
cat >never.yaml <<'YAML'
executable: /bin/true
requirements: TARGET.Name == "nosuchmachine"
YAML
NEVER=$(submit never.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
cat >big.yaml <<'YAML'
executable: /bin/true
request_memory: 64G
YAML
BIG=$(submit big.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')

# ---- three procs on two slots ----
cat >three.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "sleep 0.5; echo proc $(Process)"]
output: three.$(Process).out
queue: 3
YAML
C3=$(submit three.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1/p')
all_three() { in_history "$C3.0" && in_history "$C3.1" && in_history "$C3.2"; }
if wait_for 20 all_three; then pass "3 procs on 2 slots all complete"; else fail "3 procs on 2 slots all complete" "$(q -a; tail -5 s/schedd.log)"; fi
check_eq "each proc's output came home" "proc 0 proc 1 proc 2" "$(cat three.0.out three.1.out three.2.out | xargs)"
check_eq "the unmatchable job is still Idle" "I" "$(status_of "$NEVER")"
check_eq "the job asking for more memory than any slot is still Idle" "I" "$(status_of "$BIG")"
check_contains "the negotiator logged its cycles" "negotiation:" "$(cat s/schedd.log)"
check_contains "q -l says which clause no machine meets" \
	'MatchAnalysis = "no slot matches (2 slots); requirement `TARGET.Name == \"nosuchmachine\"` holds on 0"' \
	"$(q -a -l "$NEVER")"
check_contains "q -l says the memory request is what fails" \
	'requirement `TARGET.Memory >= MY.RequestMemory` holds on 0' "$(q -a -l "$BIG")"
pool rm "$NEVER" "$BIG" >/dev/null

# ---- the startd dies mid-run ----
cat >long.yaml <<'YAML'
executable: /bin/sleep
arguments: ["30"]
YAML
ID=$(submit long.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 10 status_is "$ID" R; then pass "the long job runs"; else fail "the long job runs" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
check_contains "q -l shows RemoteHost while it runs" 'RemoteHost = "slot' "$(q -a -l "$ID")"
job_pid=""
find_job() { job_pid=$(our_pids '^(\.\/)?sleep 30$' | head -1); [ -n "$job_pid" ]; }
wait_for 5 find_job
kill -9 "$WS1_PID"; wait "$WS1_PID" 2>/dev/null
if wait_for 20 status_is "$ID" I; then pass "a killed startd sends its job back to Idle"; else fail "a killed startd sends its job back to Idle" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
check_contains "and the schedd says why" "lost the startd" "$(cat s/schedd.log)"
out=$(q -a -l "$ID")
check_contains "q -l says why it was requeued" 'the startd of slot' "$(echo "$out" | grep LastRequeueReason)"
check_contains "and where it ran" 'LastRemoteHost = "slot' "$out"
check_contains "and counts its shadows" "NumShadowStarts = " "$out"
check_contains "a lost machine counts as a retry" "NumRetries = 1" "$out"
if [ -n "$job_pid" ] && wait_for 5 bash -c "! kill -0 $job_pid"; then pass "the job process died with its startd"; else fail "the job process died with its startd" "pid $job_pid"; fi

# ---- a new startd picks it up; the owner comes back: requeued ----
start_startd ws2 "${STARTD_CONFIG[@]}" "preempt: KeyboardIdle < 3"
if wait_for 15 status_is "$ID" R; then pass "the job runs again on another machine"; else fail "the job runs again on another machine" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
check_contains "on ws2" "@ws2" "$(q -a -l "$ID" | grep RemoteHost)"
touch ws2/activity
if wait_for 10 status_is "$ID" I; then pass "the owner's return preempts the job back to Idle"; else fail "the owner's return preempts the job back to Idle" "$(q -a "$ID"; tail -5 ws2/startd.log)"; fi
check_contains "the startd logged the preemption" "vacating job" "$(cat ws2/startd.log)"
pool rm "$ID" >/dev/null
WS2_PID=$STARTD_PID
kill "$WS2_PID"; wait "$WS2_PID" 2>/dev/null

# ---- suspend and continue with the owner ----
# KeyboardIdle counts whole seconds: KeyboardBusy lasts 3 s after a touch.
start_startd ws3 "${STARTD_CONFIG[@]}" "keyboard_busy_time: 3s" "preempt: false" "continue: KeyboardIdle > 4"
ID=$(submit long.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 15 status_is "$ID" R; then pass "a job runs on ws3"; else fail "a job runs on ws3" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
job_pid=""
wait_for 5 find_job
proc_state() { ps -o stat= -p "$job_pid" 2>/dev/null | cut -c1; }
proc_state_is() { [ "$(proc_state)" == "$1" ]; }
# stopped: by SIGSTOP (state T), or, where jobs run in cgroups, frozen
# with the rest of its cgroup (the signal then waits until the thaw)
job_frozen() {
	local cg mnt
	cg=$(sed -n 's/^0:://p' "/proc/$job_pid/cgroup" 2>/dev/null) && mnt=$(findmnt -n -t cgroup2 -o TARGET | head -1) &&
		grep -qx "frozen 1" "$mnt$cg/cgroup.events" 2>/dev/null
}
job_stopped() { proc_state_is T || job_frozen; }
touch ws3/activity
if wait_for 5 job_stopped; then pass "the owner's return stops the job (SIGSTOP, or its cgroup frozen)"; else fail "the owner's return stops the job (SIGSTOP, or its cgroup frozen)" "state $(proc_state); $(tail -3 ws3/startd.log)"; fi
check_contains "the slot is Claimed/Suspended" "Claimed    Suspended" "$(pool status | grep @ws3)"
job_continued() { proc_state_is S && ! job_frozen; }
if wait_for 10 job_continued; then pass "idleness continues it (SIGCONT, thawed)"; else fail "idleness continues it (SIGCONT, thawed)" "state $(proc_state); $(tail -3 ws3/startd.log)"; fi
check_eq "the job was Running all along" "R" "$(status_of "$ID")"
pool rm "$ID" >/dev/null
if wait_for 5 bash -c "! kill -0 $job_pid 2>/dev/null"; then pass "removing a running job kills it"; else fail "removing a running job kills it" "pid $job_pid still there"; fi
if wait_for 5 states_are ws3 "Unclaimed"; then pass "and frees its slot"; else fail "and frees its slot" "$(pool status)"; fi

# ---- the schedd dies while a job runs: the job goes on ----
# (Until job leases, the shadow released the claim and the job stopped;
# now it runs on under its lease and the restarted schedd reconnects to
# it — docs/running-jobs.md, "Schedd restarts"; test-schedd-restart.sh
# has the whole story.)
starts=$(grep -c ' started as ' ws3/startd.log)
ID=$(submit long.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 10 status_is "$ID" R; then pass "another job runs on ws3"; else fail "another job runs on ws3" "$(q -a "$ID")"; fi
# (its pid from ws3's log, not pgrep: other runs of this test on the
# machine have `sleep 30` jobs too)
started_on_ws3() { [ "$(grep -c ' started as ' ws3/startd.log)" -gt "$starts" ]; }
wait_for 5 started_on_ws3
job_pid=$(grep ' started as ' ws3/startd.log | tail -1 | sed 's/.*(pid \([0-9]*\)).*/\1/')
kill -9 "$SCHEDD_PID"; wait "$SCHEDD_PID" 2>/dev/null
if wait_for 5 grep -q "lost its schedd; the claim and its job wait" ws3/startd.log; then pass "a dead schedd's shadow leaves the claim to the job lease"; else fail "a dead schedd's shadow leaves the claim to the job lease" "$(tail -3 ws3/startd.log)"; fi
if [ -n "$job_pid" ] && kill -0 "$job_pid" 2>/dev/null; then pass "and the job goes on"; else fail "and the job goes on" "pid $job_pid; $(tail -3 ws3/startd.log)"; fi
start_schedd "$TMP/s"
check_eq "the restarted schedd has the job Running" "R" "$(status_of "$ID")"
if wait_for 10 grep -q "reconnected by a new shadow .* (pid $job_pid) is running" ws3/startd.log; then pass "and reconnects to it"; else fail "and reconnects to it" "$(tail -3 ws3/startd.log)"; fi
pool rm "$ID" >/dev/null
if wait_for 5 bash -c "! kill -0 $job_pid 2>/dev/null"; then pass "removing it then kills it"; else fail "removing it then kills it" "pid $job_pid still there"; fi

finish
