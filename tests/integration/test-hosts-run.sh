#!/bin/bash
# Running jobs across hosts (hosts.sh: network namespaces on a bridge):
# a schedd on host "submit", startds on "ws1" and "ws2", every daemon on
# its own host's address.  A job runs on a workstation and its outputs
# come home byte for byte; a workstation that dies (kill_host) costs
# the run, which starts again on the other one; a workstation cut off
# (link_down) has its job killed by its own startd once the claim lease
# runs out, the job runs elsewhere — never on two hosts at once — and
# nothing of the cut-off run is accepted, not even a run that finished
# while cut off.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"

make_hosts submit ws1 ws2
start_schedd_on submit "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.2s"
cd "$TMP"
# Short leases: a startd kills a job whose shadow is silent for 2 s;
# ClaimLease = 2 + poll 0.1 + 4 × schedd_timeout 0.5 → 5 s.
job_startds "claim_lease: 2s" "schedd_timeout: 0.5s"

running_on() { q -a -l "$1" 2>/dev/null | grep -q "^RemoteHost = \"slot1@$2\""; }
# run_preferring HOST NAME SCRIPT: submit NAME.yaml, `sh -c SCRIPT` ranking
# machine HOST first, stdout to NAME.out; ID is its id, running on HOST.
run_preferring() {
	printf 'executable: /bin/sh\narguments: ["-c", "%s"]\nrank: TARGET.Machine == "%s"\noutput: %s.out\n' \
		"$3" "$1" "$2" >"$2.yaml"
	ID=$(submit_id "$2.yaml")
	if wait_for 15 running_on "$ID" "$1"; then pass "$2: a job preferring $1 runs there"; else fail "$2: a job preferring $1 runs there" "$(q -a -l "$ID" | grep Remote; tail -3 s/schedd.log)"; fi
}
attr() { q -a -l "$1" 2>/dev/null | sed -n "s/^$2 = //p"; }
hist_attr() { q -a --history -l "$1" 2>/dev/null | sed -n "s/^$2 = //p"; }

check_eq "the schedd listens on submit's address" "$(host_ip submit)" "${SCHEDD_ADDR%:*}"
start_startd_on ws1 ws1 "${STARTD_CONFIG[@]}"
WS1_PID=$STARTD_PID
# ws2 listens on every address: it must advertise the one the schedd
# reaches it at, not 0.0.0.0 or loopback.
STARTD_LISTEN=0.0.0.0 start_startd_on ws2 ws2 "${STARTD_CONFIG[@]}"
WS2_PID=$STARTD_PID
both_free() { states_are ws1 Unclaimed && states_are ws2 Unclaimed; }
if wait_for 15 both_free; then pass "ws1 and ws2 advertise over the bridge"; else fail "ws1 and ws2 advertise over the bridge" "$(pool status; tail -3 ws1/startd.log ws2/startd.log)"; fi
addr_of() { pool status -l "slot1@$1" 2>/dev/null | sed -n 's/^StartdAddr = "\(.*\):[0-9]*"$/\1/p'; }
check_eq "ws1's StartdAddr is ws1's address" "$(host_ip ws1)" "$(addr_of ws1)"
check_eq "ws2 listens on 0.0.0.0 and advertises its own address" "$(host_ip ws2)" "$(addr_of ws2)"
check_contains "ws2 says where shadows connect" "listening for shadows on 0.0.0.0:" "$(cat ws2/startd.log)"
check_eq "the slots carry ClaimLease (2 + 0.1 + 4 × 0.5, rounded up)" "5" \
	"$(pool status -l slot1@ws1 | sed -n 's/^ClaimLease = //p')"

# ---- a job runs on a workstation; its outputs come home ----
head -c 300000 /dev/urandom >data.bin
cat >copy.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "cat data.bin; cat data.bin >copy.bin; echo done >&2"]
transfer_input_files: [data.bin]
output: copy.out
error: copy.err
YAML
ID=$(submit_id copy.yaml)
if wait_for 20 in_history "$ID"; then pass "a job runs on a workstation and completes"; else fail "a job runs on a workstation and completes" "$(q -a -l "$ID" | grep -i 'hold\|requeue'; tail -5 s/schedd.log)"; fi
if cmp -s data.bin copy.out; then pass "its stdout (300 kB) came home byte for byte"; else fail "its stdout came home byte for byte" "$(ls -l data.bin copy.out)"; fi
if cmp -s data.bin copy.bin; then pass "a file it wrote came home byte for byte"; else fail "a file it wrote came home byte for byte" "$(ls -l copy.bin 2>&1)"; fi
check_eq "its stderr too" "done" "$(cat copy.err)"
check_contains "it ran on a workstation" 'RemoteHost = "slot1@ws' "$(q -a --history -l "$ID")"

# ---- ws1 dies mid-run: the job runs again on ws2 ----
run_preferring ws1 dies 'sleep 3; echo ran in $$KITE_SANDBOX'
sleep 0.5
kill_host ws1
{ wait "$WS1_PID"; } 2>/dev/null
check_eq "nothing runs on ws1 any more" "" "$(ip netns pids "$(host_ns ws1)")"
if wait_for 20 running_on "$ID" ws2; then pass "the job of the dead host runs on ws2"; else fail "the job of the dead host runs on ws2" "$(q -a -l "$ID" | grep -i 'remote\|requeue'; tail -5 s/schedd.log)"; fi
if wait_for 15 in_history "$ID"; then pass "and completes there"; else fail "and completes there" "$(q -a "$ID")"; fi
check_contains "its output is ws2's run" "/ws2/execute/" "$(cat dies.out)"
check_eq "and only that run's" 1 "$(wc -l <dies.out)"
check_contains "the requeue says the startd was lost" "lost the startd of slot1@ws1" "$(hist_attr "$ID" LastRequeueReason)"
check_eq "two shadows ran it" 2 "$(hist_attr "$ID" NumShadowStarts)"

# ---- ws2 cut off mid-run: its startd kills the job, it runs on ws1 ----
start_startd_on ws1 ws1 "${STARTD_CONFIG[@]}"
WS1_PID=$STARTD_PID
if wait_for 15 states_are ws1 Unclaimed; then pass "ws1 is back"; else fail "ws1 is back" "$(pool status)"; fi
# Sample, from now on, how many copies of the job run (on any host).
ours() { our_pids '^sleep 4.01$'; }
( while :; do n=$(ours | wc -l); [ "$n" -gt 1 ] && echo "$n" >>"$TMP/twice"; sleep 0.05; done ) &
PIDS+=($!)
run_preferring ws2 cut 'echo started in $$KITE_SANDBOX; sleep 4.01; echo finished in $$KITE_SANDBOX'
wait_for 5 ours >/dev/null
stale_pid=$(ours)
cut_at=$SECONDS
link_down ws2
if wait_for 20 running_on "$ID" ws1; then pass "ws2 cut off: the job runs on ws1"; else fail "ws2 cut off: the job runs on ws1" "$(q -a -l "$ID" | grep -i 'remote\|requeue'; tail -5 s/schedd.log)"; fi
moved=$((SECONDS - cut_at))
if [ "$moved" -ge 4 ]; then pass "not before ws2's claim lease ran out ($moved s)"; else fail "not before ws2's claim lease ran out" "it moved after $moved s"; fi
check_contains "the shadow waited out the claim lease" "no answer for" "$(attr "$ID" LastRequeueReason)"
if ! kill -0 "$stale_pid" 2>/dev/null; then pass "the cut-off startd killed its copy on its own"; else fail "the cut-off startd killed its copy on its own" "pid $stale_pid runs"; fi
check_contains "ws2's log says why" "its shadow was not heard from within claim_lease" "$(cat ws2/startd.log)"
link_up ws2
if wait_for 15 states_are ws2 Unclaimed; then pass "ws2 is back and Unclaimed: its stale claim is gone"; else fail "ws2 is back and Unclaimed" "$(pool status; tail -5 ws2/startd.log)"; fi
check_eq "the queue has the job running once, on ws1" '"slot1@ws1"' "$(attr "$ID" RemoteHost)"
if wait_for 15 in_history "$ID"; then pass "the job completes"; else fail "the job completes" "$(q -a "$ID")"; fi
check_eq "its output is ws1's run alone" "started in $TMP/ws1/execute finished in $TMP/ws1/execute" \
	"$(sed 's|/dir_[^/]*$||' cut.out | xargs)"
check_eq "no two copies ever ran at once" "" "$(cat "$TMP/twice" 2>/dev/null)"

# ---- a run that finishes while cut off is not accepted ----
ws2_log_lines=$(wc -l <ws2/startd.log)
run_preferring ws2 quick 'sleep 1; echo ran in $$KITE_SANDBOX'
# Cut only once it runs there (a cut between the match and the start is
# the case above): Running in the queue comes before the start.
wait_for 10 bash -c "tail -n +$((ws2_log_lines + 1)) ws2/startd.log | grep -q 'started as'" ||
	fail "quick: the job never started on ws2" "$(tail -5 ws2/startd.log)"
link_down ws2
# It exits on ws2 a second later, with nobody there to take its output.
if wait_for 20 in_history "$ID"; then pass "the job completes after all"; else fail "the job completes after all" "$(q -a -l "$ID" | grep -i 'remote\|requeue')"; fi
check_contains "on ws1" "/ws1/execute/" "$(cat quick.out)"
check_eq "the output of ws2's finished run was dropped" 1 "$(wc -l <quick.out)"
cut_log=$(tail -n +"$((ws2_log_lines + 1))" ws2/startd.log)
check_contains "the run on ws2 did finish while cut off" "exited with status 0" "$cut_log"
check_contains "and ws2 dropped its claim, outputs and all" "its shadow was not heard from within claim_lease" "$cut_log"
link_up ws2

finish
