#!/bin/bash
# A job's on_exit_hold and on_exit_remove (Condor's OnExitHold and
# OnExitRemove), evaluated by the schedd when a run ends: a job that
# fails once runs again until on_exit_remove is true and then completes,
# once, with its output; a job whose on_exit_hold is true is held with
# Condor's reason and HoldReasonCode 3; a job without them completes on
# any exit code as before; a bad expression is refused at submit.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds
start_startd ws1 "${STARTD_CONFIG[@]}"
field() { q -a ${3:+--history} -l "$1" | sed -n "s/^$2 = //p"; }
mkdir -m 1777 runs

# ---- runs again until it succeeds ----
cat >retry.yaml <<YAML
executable: /bin/sh
arguments: ["-c", "echo run >>$TMP/runs/retry; test \$\$(wc -l <$TMP/runs/retry) -ge 3 && echo done"]
output: retry.out
on_exit_remove: ExitBySignal == false && ExitCode == 0
YAML
ID=$(submit_id retry.yaml)
if wait_for 30 in_history "$ID"; then pass "a job failing twice runs again until on_exit_remove holds"; else fail "a job failing twice runs again until on_exit_remove holds" "$(q -a -l "$ID" | tail -8)"; fi
check_eq "three runs" 3 "$(wc -l <runs/retry)"
check_eq "its output is the last run's" "done" "$(cat retry.out)"
check_eq "it completed with exit code 0" 0 "$(field "$ID" ExitCode history)"
check_eq "once in the history" 1 "$(q --history -af ClusterId | grep -cx "${ID%.*}")"
check_contains "the runs that did not count are among its events" \
	"The job attribute OnExitRemove expression 'ExitBySignal == false && ExitCode == 0' evaluated to FALSE: it runs again" \
	"$(q --history -l "$ID" | grep '^#')"

# ---- held on a given exit code ----
cat >hold.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "exit 3"]
on_exit_hold: ExitCode == 3
YAML
ID=$(submit_id hold.yaml)
if wait_for 20 status_is "$ID" H; then pass "on_exit_hold holds a job that exits 3"; else fail "on_exit_hold holds a job that exits 3" "$(q -a -l "$ID" | tail -8)"; fi
check_eq "with Condor's reason" "\"The job attribute OnExitHold expression 'ExitCode == 3' evaluated to TRUE\"" "$(field "$ID" HoldReason)"
check_eq "and HoldReasonCode 3" 3 "$(field "$ID" HoldReasonCode)"
pool rm "$ID" >/dev/null

# ---- neither: any exit code completes ----
printf 'executable: /bin/sh\narguments: ["-c", "exit 5"]\n' >plain.yaml
ID=$(submit_id plain.yaml)
if wait_for 20 in_history "$ID"; then pass "without them a job exiting 5 completes"; else fail "without them a job exiting 5 completes" "$(q -a -l "$ID" | tail -5)"; fi
check_eq "with ExitCode 5" 5 "$(field "$ID" ExitCode history)"

# ---- refused at submit ----
printf 'executable: /bin/true\non_exit_remove: ExitCode ==\n' >bad.yaml
out=$(submit bad.yaml 2>&1); rc=$?
check_status "a bad on_exit_remove" 1 $rc
check_contains "is refused with its place" "bad.yaml:2:28: bad expression in \`on_exit_remove\`: expected an expression" "$out"

finish
