#!/bin/bash
# What a job used reaches its queue record (Condor's MemoryUsage,
# ResidentSetSize, RemoteUserCpu, RemoteSysCpu): the startd measures the
# job's cgroup when it exits, the shadow carries it to the schedd, which
# records it with the outcome — in `q -l` and in the history, and in
# time for the job's on_exit_hold.  Skipped (with the startd's reason)
# only where no cgroup v2 hierarchy is writable: rlimits measure nothing.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds
start_startd ws1 "${STARTD_CONFIG[@]}"
wait_for 10 grep -q "jobs \(run in\|get rlimits\)" ws1/startd.log
if grep -q "jobs get rlimits, not cgroups" ws1/startd.log; then
	echo "SKIP: $(basename "$0"): $(grep -o 'jobs get rlimits, not cgroups: .*' ws1/startd.log)"
	exit 77
fi
field() { q -a ${3:+--history} -l "$1" | sed -n "s/^$2 = //p"; }
# at_least WHAT MIN VALUE / below WHAT MAX VALUE: numeric checks.
at_least() { if [ -n "$3" ] && awk -v v="$3" -v m="$2" 'BEGIN { exit !(v >= m) }'; then pass "$1 ($3)"; else fail "$1" "got '$3', want at least $2"; fi; }
below() { if [ -n "$3" ] && awk -v v="$3" -v m="$2" 'BEGIN { exit !(v < m) }'; then pass "$1 ($3)"; else fail "$1" "got '$3', want under $2"; fi; }

# 64 MiB touched (a bytes object of 'x'), then at least 0.8 s of CPU,
# nearly all of it user time (arithmetic between rare clock reads: the
# process CPU clock is a system call).
PROGRAM="import time\nb = b'x' * (64 << 20)\nwhile time.process_time() < 0.8: sum(range(200000))\nprint(len(b) >> 20)"

# ---- a job that completes: its use in the history ----
cat >mem.yaml <<YAML
executable: /usr/bin/python3
arguments: ["-c", "$PROGRAM"]
request_memory: 512M
output: mem.out
YAML
ID=$(submit_id mem.yaml)
if wait_for 30 in_history "$ID"; then pass "the job completes"; else fail "the job completes" "$(q -a -l "$ID" | tail -8)"; fi
check_eq "with its output" 64 "$(cat mem.out)"
MEM=$(field "$ID" MemoryUsage history)
at_least "MemoryUsage (MiB) covers the 64 MiB it touched" 64 "$MEM"
below "and is not far over it" 256 "$MEM"
RSS=$(field "$ID" ResidentSetSize history)
at_least "ResidentSetSize (KiB) is the same peak" $((MEM * 1024 - 1023)) "$RSS"
below "in KiB" $((MEM * 1024 + 1)) "$RSS"
at_least "RemoteUserCpu counts its 0.8 s of CPU (most of it user)" 0.3 "$(field "$ID" RemoteUserCpu history)"
at_least "RemoteSysCpu is there" 0 "$(field "$ID" RemoteSysCpu history)"
check_contains "the startd's log says the same peak" "slot1@ws1: the job used at most" "$(cat ws1/startd.log)"

# ---- on_exit_hold sees it: held, still in the queue, with its use ----
cat >hold.yaml <<YAML
executable: /usr/bin/python3
arguments: ["-c", "$PROGRAM"]
request_memory: 512M
on_exit_hold: MemoryUsage > 32
YAML
ID=$(submit_id hold.yaml)
if wait_for 30 status_is "$ID" H; then pass "on_exit_hold: MemoryUsage > 32 holds it"; else fail "on_exit_hold: MemoryUsage > 32 holds it" "$(q -a -l "$ID" | tail -8)"; fi
check_eq "with Condor's reason" "\"The job attribute OnExitHold expression 'MemoryUsage > 32' evaluated to TRUE\"" "$(field "$ID" HoldReason)"
at_least "q -l shows its MemoryUsage" 64 "$(field "$ID" MemoryUsage)"
at_least "and its RemoteUserCpu" 0.3 "$(field "$ID" RemoteUserCpu)"
pool rm "$ID" >/dev/null

# ---- kept by Kite: a job file cannot set them ----
for attr in MemoryUsage ResidentSetSize RemoteUserCpu RemoteSysCpu; do
	printf 'executable: /bin/true\n+%s: 1\n' "$attr" >own.yaml
	out=$(submit own.yaml 2>&1); rc=$?
	check_status "a job file setting +$attr" 1 $rc
	check_contains "is refused" "own.yaml:2:1: custom attribute \`+$attr\`: $attr is kept by Kite, not set by a job file" "$out"
done

finish
