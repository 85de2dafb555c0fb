#!/bin/bash
# Jobs in cgroups (startd/cgroup.c): a job that allocates more than its
# request_memory is killed and held with a reason a person can act on;
# a job within it completes and its use is logged; a job that starts a
# background process in a session of its own leaves nothing behind,
# neither when it is removed nor when it exits; the startd removes its
# cgroups when it stops.  Skipped (with the startd's own reason) only
# where no cgroup v2 hierarchy is writable.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds
start_startd c1 "${STARTD_CONFIG[@]}"
C1_PID=$STARTD_PID
wait_for 10 grep -q "jobs \(run in\|get rlimits\)" c1/startd.log
if grep -q "jobs get rlimits, not cgroups" c1/startd.log; then
	echo "SKIP: $(basename "$0"): $(grep -o 'jobs get rlimits, not cgroups: .*' c1/startd.log)"
	exit 77
fi
CG=$(cat c1/startd.cgroup)
check_contains "the startd says where its jobs' cgroups are" "jobs run in cgroups under $CG" "$(cat c1/startd.log)"
MEMORY_BY=kernel
grep -q "memory: measured by the startd" c1/startd.log && MEMORY_BY=startd
echo "  (memory limits: enforced by the $MEMORY_BY)"
if wait_for 10 states_are c1 Unclaimed; then pass "c1 is Unclaimed"; else fail "c1 is Unclaimed" "$(pool status; tail -3 c1/startd.log)"; fi

# ---- over its memory request: killed, held, said why ----
cp "$ROOT/bin/tests/programs/bigmem" .
cat >big.yaml <<'YAML'
executable: bigmem
arguments: ["64"]
request_memory: 16M
YAML
ID=$(submit_id big.yaml)
if wait_for 20 status_is "$ID" H; then pass "a job using 64 MiB of its 16 is held"; else fail "a job using 64 MiB of its 16 is held" "$(q -a -l "$ID" | grep -i 'hold\|requeue'; tail -5 c1/startd.log)"; fi
out=$(q -a -l "$ID")
check_contains "the hold says what to do" \
	'HoldReason = "job exceeded request_memory of 16 MiB on slot1@c1 and was killed; raise request_memory in the job file"' "$out"
check_contains "with Condor's code for it" "HoldReasonCode = 34" "$out"
check_contains "the startd logged it" "job exceeded request_memory of 16 MiB on slot1@c1" "$(cat c1/startd.log)"
check_eq "no bigmem is left running" "" "$(our_pids '^(\./)?bigmem ')"
pool rm "$ID" >/dev/null

# ---- within its request: completes, use logged ----
cat >small.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "head -c 3000000 /dev/zero | wc -c"]
request_memory: 64M
output: small.out
YAML
ID=$(submit_id small.yaml)
if wait_for 15 in_history "$ID"; then pass "a job within its request completes"; else fail "a job within its request completes" "$(q -a -l "$ID" | grep -i hold)"; fi
check_eq "with its output" "3000000" "$(cat small.out)"
check_contains "the startd logged what it used" "slot1@c1: the job used at most" "$(cat c1/startd.log)"

# ---- a background process in its own session: removed with the job ----
cat >bg.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "setsid sleep 987 </dev/null >/dev/null 2>&1 & sleep 986"]
YAML
ID=$(submit_id bg.yaml)
if wait_for 15 our_pids '^sleep 987$' >/dev/null; then pass "a job starts a process in a session of its own"; else fail "a job starts a process in a session of its own" "$(q -a "$ID")"; fi
escaped=$(our_pids '^sleep 987$')
check_contains "which is in the job's cgroup all the same" "$escaped" "$(cat "$CG/slot1/cgroup.procs" 2>&1)"
if [ $MEMORY_BY = kernel ]; then
	check_eq "the cgroup's memory.max is request_memory (128 MiB)" 134217728 "$(cat "$CG/slot1/memory.max")"
fi
if grep -q "cpu: cpu.max" c1/startd.log; then
	check_eq "its cpu.max is request_cpus (1)" "100000 100000" "$(cat "$CG/slot1/cpu.max")"
fi
pool rm "$ID" >/dev/null
if wait_for 5 none_of_ours '^sleep 98[67]$'; then pass "removing the job kills the process that left its session"; else fail "removing the job kills the process that left its session" "$(our_procs 'sleep 98')"; fi
if wait_for 5 test ! -e "$CG/slot1"; then pass "and its cgroup is removed"; else fail "and its cgroup is removed" "$(ls "$CG")"; fi

cat >bgexit.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "setsid sleep 985 </dev/null >/dev/null 2>&1 & echo bye"]
output: bgexit.out
YAML
ID=$(submit_id bgexit.yaml)
if wait_for 15 in_history "$ID"; then pass "a job that leaves a process behind completes"; else fail "a job that leaves a process behind completes" "$(q -a "$ID")"; fi
check_eq "with its output" "bye" "$(cat bgexit.out)"
check_eq "and the process it left is gone" "" "$(our_pids '^sleep 985$')"

# ---- the startd stops: its cgroups go ----
kill "$C1_PID"; wait "$C1_PID" 2>/dev/null
check_eq "a stopped startd removes its cgroups" "no" "$(test -e "$CG" && echo yes || echo no)"

# ---- suspended: every process of the job stops, even one that left its session ----
start_startd c2 "${STARTD_CONFIG[@]}" "keyboard_busy_time: 3s" "preempt: false" "continue: KeyboardIdle > 4"
C2_PID=$STARTD_PID
wait_for 10 grep -q "jobs run in cgroups" c2/startd.log
CG2=$(cat c2/startd.cgroup)
mkdir -m 1777 ticks
cat >tick.yaml <<YAML
executable: /bin/sh
arguments: ["-c", "setsid sh -c 'while :; do echo x >>$TMP/ticks/escaped; sleep 0.05; done' </dev/null >/dev/null 2>&1 & while :; do echo x >>$TMP/ticks/job; sleep 0.05; done"]
YAML
ticks() { cat "ticks/$1" 2>/dev/null | wc -l; }
grows() { local n=$(ticks "$1"); sleep 0.5; [ "$(ticks "$1")" -gt "$n" ]; }
ID=$(submit_id tick.yaml)
if wait_for 15 grows escaped && grows job; then pass "a job and a process it moved to a session of its own both run"; else fail "a job and a process it moved to a session of its own both run" "$(q -a "$ID"; tail -3 c2/startd.log)"; fi
touch c2/activity
if wait_for 5 bash -c "pool status | grep @c2 | grep -q Suspended"; then pass "the owner's return suspends the job"; else fail "the owner's return suspends the job" "$(pool status)"; fi
check_eq "its cgroup is frozen" 1 "$(cat "$CG2/slot1/cgroup.freeze" 2>&1)"
sleep 0.3
if grows escaped; then fail "the process that left the job's session stops too" "it kept running"; else pass "the process that left the job's session stops too"; fi
if grows job; then fail "the job itself stops" "it kept running"; else pass "the job itself stops"; fi
if wait_for 10 grows escaped; then pass "idleness continues the process that left its session"; else fail "idleness continues the process that left its session" "$(pool status | grep @c2; tail -3 c2/startd.log)"; fi
if grows job; then pass "and the job"; else fail "and the job" "$(tail -3 c2/startd.log)"; fi
check_eq "its cgroup is thawed" 0 "$(cat "$CG2/slot1/cgroup.freeze" 2>&1)"
pool rm "$ID" >/dev/null
stopped_growing() { ! grows "$1"; }
if wait_for 5 stopped_growing escaped; then pass "removing it ends both"; else fail "removing it ends both" "$(our_procs ticks)"; fi
kill "$C2_PID"; wait "$C2_PID" 2>/dev/null

finish
