#!/bin/bash
# pool query — the agent: a real schedd and three real startds of known
# speeds (mips), slots and memory on loopback.  The slots that could run
# a job are listed best first — by the job's rank, then by the run time
# predicted from the speed — byte for byte, in the table and in JSON;
# a slot whose Start refuses the caller (the job's Owner) is left out;
# requirements no slot meets give an empty list; bad input is refused
# with the column at fault.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s"
cd "$TMP"
ME=$(id -un)
ACTIVITY_AGE='-1 hour'
# No load source: LoadAvg is absent (shown as -), so the predictions
# depend on the configured speeds only; Start is just the idle time.
COMMON=("activity_sources: []" "benchmark: false")
IDLE="start: KeyboardIdle > StartIdleTime"
start_startd ws1 "${COMMON[@]}" "$IDLE" "mips: 1000" "cpus: 1" "slots: 1" "memory: 1G"
start_startd ws2 "${COMMON[@]}" "$IDLE" "mips: 4000" "cpus: 2" "slots: 2" "memory: 4G"
start_startd ws3 "${COMMON[@]}" "mips: 8000" "cpus: 1" "slots: 1" "memory: 8G" \
	"start: KeyboardIdle > StartIdleTime && TARGET.Owner != \"$ME\""
all_up() { states_are ws1 "Unclaimed" && states_are ws2 "Unclaimed Unclaimed" && states_are ws3 "Unclaimed"; }
if wait_for 15 all_up; then pass "three startds, four slots, all Unclaimed"; else fail "three startds, four slots, all Unclaimed" "$(pool status; tail -n 3 ws*/startd.log)"; fi

# 4,000,000 Mips-seconds: 1000 s at Mips 4000, 4000 s at Mips 1000.
# ws3 is the fastest and biggest, but its Start refuses $ME.
out=$(pool query --work 4000000); rc=$?
check_status "pool query --work" 0 $rc
check_eq "without a rank, the fastest first; ws3 refuses the caller" "Name                     State      Activity       Mips LoadAv       Rank Predicted
slot1@ws2                Unclaimed  Idle           4000 -               0 0+00:16:40
slot2@ws2                Unclaimed  Idle           4000 -               0 0+00:16:40
slot1@ws1                Unclaimed  Idle           1000 -               0 0+01:06:40

3 slot(s) could run it; 3 of them Unclaimed now" "$out"

out=$(pool query --rank '-TARGET.Mips' --requirements 'TARGET.Memory >= 1024')
check_eq "the rank comes first (here: the slowest), no --work: no prediction" "Name                     State      Activity       Mips LoadAv       Rank Predicted
slot1@ws1                Unclaimed  Idle           1000 -           -1000 -
slot1@ws2                Unclaimed  Idle           4000 -           -4000 -
slot2@ws2                Unclaimed  Idle           4000 -           -4000 -

3 slot(s) could run it; 3 of them Unclaimed now" "$out"

out=$(pool query --requirements 'TARGET.Memory > 1024' --work 2e6 --json)
check_eq "--json" '[
  {"Name": "slot1@ws2", "State": "Unclaimed", "Activity": "Idle", "Mips": 4000, "LoadAvg": null, "Rank": 0, "PredictedRunTime": 500},
  {"Name": "slot2@ws2", "State": "Unclaimed", "Activity": "Idle", "Mips": 4000, "LoadAvg": null, "Rank": 0, "PredictedRunTime": 500}
]' "$out"

out=$(pool query --requirements 'TARGET.Memory > 100000' --json)
check_eq "nothing matches: an empty JSON array" "[]" "$out"
out=$(pool query --requirements 'TARGET.Memory > 100000')
check_eq "nothing matches: the table says so" "Name                     State      Activity       Mips LoadAv       Rank Predicted

0 slot(s) could run it; 0 of them Unclaimed now" "$out"

# ws3 exists and is free: it was left out because its Start said no.
check_eq "ws3 is in the pool" "Unclaimed" "$(states ws3)"

out=$(pool query --requirements 'TARGET.Memory >=' 2>&1); rc=$?
check_status "a bad requirements expression" 1 $rc
check_contains "is refused naming the column" "pool: requirements, column 17: expected an expression but found end of expression" "$out"
out=$(pool query --rank 'TARGET.Mips +* 2' 2>&1); rc=$?
check_status "a bad rank" 1 $rc
check_contains "is refused naming the column" "pool: rank, column " "$out"
out=$(pool query --work -5 2>&1); rc=$?
check_status "negative work" 2 $rc
check_eq "is refused" "pool query: --work must be a number of Mips-seconds >= 0, not -5" "$out"
out=$(pool query extra 2>&1); rc=$?
check_status "a stray argument" 2 $rc
check_contains "is refused" "unexpected argument \`extra\`" "$out"
check_contains "pool --help lists query" "query [--requirements EXPR] [--rank EXPR] [--work N] [--json]" "$(pool --help)"
check_contains "pool query --help explains --work" "Mips-seconds" "$(pool query --help)"
finish
