#!/bin/bash
# Fair share survives a schedd crash (docs/pool.md, `pool userprio`;
# docs/decisions.md).  Three users: alice runs two jobs of 2 s, bob one
# short job, carol's jobs cannot run (one Idle, one Held).  `pool
# userprio` lists them in the order the negotiator serves them (least
# usage first) with their job counts, byte for byte, and --json gives
# the usage in seconds.  The schedd is SIGKILLed and started again on
# the same state directory: the order and the usage are what they were
# (decayed, not reset to 0), and the machine's mean time between
# evictions, which chooses checkpoint intervals, still counts the runs
# seen before the crash.
. "$(dirname "$0")/lib.sh"

COUNTER=$ROOT/bin/tests/programs/counter
[ -x "$COUNTER" ] || { echo "SKIP: $COUNTER not built"; exit 77; }

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds "claim_lease: 3s" "schedd_timeout: 1s" "continue_idle_time: 1h" "checkpoint_dir: $TMP/ckpt"
cp "$COUNTER" counter
start_startd ws1 "${STARTD_CONFIG[@]}"
if wait_for 10 states_are ws1 "Unclaimed"; then pass "ws1's slot is Unclaimed"; else fail "ws1's slot is Unclaimed" "$(pool status; tail ws1/startd.log)"; fi

alice=$(pool token create --user alice)
bob=$(pool token create --user bob)
carol=$(pool token create --user carol)
tcp() { KITE_SCHEDD=$SCHEDD_ADDR KITE_TOKEN=$1 "${@:2}"; }

# usage_of USER: USER's UsageSeconds in `pool userprio --json`.
usage_of() { pool userprio --json | sed -n "s/.*\"User\": \"$1\", \"UsageSeconds\": \([0-9.]*\),.*/\1/p"; }
# mtbf_seen ID: the seconds between evictions of ws1 the agent used to
# choose job ID's checkpoint interval (CheckpointIntervalChoice).
mtbf_seen() { q -a --history -l "$1" | sed -n 's/^CheckpointIntervalChoice = .* x \([0-9]*\) s between evictions of ws1).*/\1/p'; }
# walls: the run seconds of every completed job, summed.
walls() { q -a --history -l | sed -n 's/^RemoteWallClockTime = //p' | awk '{s += $1} END {print s + 0}'; }

out=$(pool userprio)
check_eq "no users yet" "Order User                      Usage (hrs) Running    Idle    Held
      Total                            0.00       0       0       0

0 user(s); usage is slot time, halving every 1+00:00:00 (usage_half_life)" "$out"

# ---- alice runs more than bob; carol's jobs cannot run ----
printf 'executable: counter\narguments: ["20", "100"]\noutput: alice.$(Process).out\nqueue: 2\n' >alice.yaml
A=$(tcp "$alice" submit alice.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1/p')
alice_done() { in_history "$A.0" && in_history "$A.1"; }
if wait_for 40 alice_done; then pass "alice's two jobs complete"; else fail "alice's two jobs complete" "$(q -a; tail -5 s/schedd.log)"; fi
printf 'executable: /bin/true\ncheckpoint: none\n' >bob.yaml
B=$(tcp "$bob" submit bob.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1/p')
if wait_for 20 in_history "$B.0"; then pass "bob's job completes"; else fail "bob's job completes" "$(q -a; tail -5 s/schedd.log)"; fi
printf 'executable: /bin/true\nrequirements: false\ncheckpoint: none\nqueue: 2\n' >carol.yaml
C=$(tcp "$carol" submit carol.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1/p')
tcp "$carol" pool hold "$C.1" >/dev/null

table="Order User                      Usage (hrs) Running    Idle    Held
    1 carol                            0.00       0       1       1
    2 bob                              0.00       0       0       0
    3 alice                            0.00       0       0       0
      Total                            0.00       0       1       1

3 user(s); usage is slot time, halving every 1+00:00:00 (usage_half_life)"
out=$(pool userprio); rc=$?
check_status "pool userprio" 0 $rc
check_eq "users in the order they are served, least usage first, with their jobs" "$table" "$out"
check_eq "any user may ask" "$table" "$(tcp "$bob" pool userprio)"
alice_before=$(usage_of alice)
bob_before=$(usage_of bob)
# alice: 1 s per match and each job's run time (2 s at least)
if awk -v a="$alice_before" -v b="$bob_before" 'BEGIN {exit !(a >= 5 && b >= 1 && a > b)}'; then
	pass "alice's usage ($alice_before s) is above bob's ($bob_before s)"
else
	fail "alice's usage is above bob's" "$(pool userprio --json)"
fi
json=$(pool userprio --json)
check_eq "--json: one object per user, in order" "carol bob alice" "$(grep -o '"User": "[a-z]*"' <<<"$json" | cut -d'"' -f4 | xargs)"
check_contains "--json: carol's jobs and no usage" '{"Order": 1, "User": "carol", "UsageSeconds": 0.000, "LastUsage": null, "Running": 0, "Idle": 1, "Held": 1}' "$json"
if grep -q '"User": "alice", "UsageSeconds": [0-9.]*, "LastUsage": [0-9]\{10\}, "Running": 0, "Idle": 0, "Held": 0}' <<<"$json"; then pass "--json: alice's last usage is a time"; else fail "--json: alice's last usage is a time" "$json"; fi
mtbf_before=$(mtbf_seen "$A.1")
check_eq "alice's second job: the machine's MTBF counts her first run" "$((3600 + $(q -a --history -l "$A.0" | sed -n 's/^RemoteWallClockTime = //p')))" "$mtbf_before"
runs=$(walls)

# ---- a crash ----
kill -9 "$SCHEDD_PID"; wait "$SCHEDD_PID" 2>/dev/null
sleep 1
printf 'listen: %s\nnegotiator_interval: 1s\nclaim_poll_interval: 0.1s\n' "$SCHEDD_ADDR" >s/schedd.yaml
start_schedd "$TMP/s"
check_eq "after a crash: the same order and jobs" "$table" "$(pool userprio)"
# survived USER BEFORE: USER's usage is BEFORE decayed by a few seconds
# of a day's half-life (under 0.01 %), not 0.
survived() {
	local after
	after=$(usage_of "$1")
	if awk -v b="$2" -v a="$after" 'BEGIN {exit !(a <= b && a >= b * 0.999)}'; then
		pass "$1's usage survived the crash ($2 -> $after s)"
	else
		fail "$1's usage survived the crash" "before $2, after $after"
	fi
}
survived alice "$alice_before"
survived bob "$bob_before"
check_contains "the schedd loaded it quietly" "ready (state in" "$(cat s/schedd.log)"
check_not_contains "no usage was skipped or lost" "start afresh" "$(cat s/schedd.log)"

# The machine's runs survive too: a job after the crash has its
# checkpoint interval chosen from every run seen on ws1, not the prior.
printf 'executable: counter\narguments: ["3", "100"]\noutput: probe.out\n' >probe.yaml
P=$(tcp "$alice" submit probe.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1/p')
if wait_for 20 in_history "$P.0"; then pass "alice's job after the crash completes"; else fail "alice's job after the crash completes" "$(q -a; tail -5 s/schedd.log)"; fi
check_eq "after the crash ws1's MTBF counts the runs before it (prior 3600 s + $runs s run)" "$((3600 + runs))" "$(mtbf_seen "$P.0")"
out=$(pool userprio | sed -n 4p)
check_eq "alice, charged again, is still served last" "    3 alice                            0.00       0       0       0" "$out"

# ---- bad input ----
out=$(pool userprio extra 2>&1); rc=$?
check_status "an argument" 2 $rc
check_eq "is refused by name" "pool userprio: unexpected argument \`extra\`" "$out"
out=$(pool userprio --help); rc=$?
check_status "--help" 0 $rc
check_contains "--help says what the order is" "least recent usage first, equal usage by name" "$out"

finish
