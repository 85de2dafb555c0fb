#!/bin/bash
# A job's environment as the job sees it: `environment` from the job file,
# `getenv` from the submitter's shell (by name or pattern; the job file's
# own win), nothing else of the submitter's, and a "$" in a value kept.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds
start_startd ws1 "${STARTD_CONFIG[@]}"

cat >env.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "env | grep ^KITE_X_ | sort"]
output: env.out
environment:
  KITE_X_FILE: a b
  KITE_X_BOTH: from the file
getenv: [KITE_X_SHELL*, KITE_X_BOTH]
YAML
ID=$(KITE_X_SHELL=hello KITE_X_SHELL2='costs $5' KITE_X_BOTH=from-the-shell KITE_X_OTHER=secret submit_id env.yaml)
if wait_for 20 in_history "$ID"; then pass "the job ran"; else fail "the job ran" "$(q -a -l "$ID" | tail -5)"; fi
check_eq "it saw the job file's variables and the submitter's it asked for, nothing else" \
	"$(printf 'KITE_X_BOTH=from the file\nKITE_X_FILE=a b\nKITE_X_SHELL2=costs $5\nKITE_X_SHELL=hello')" "$(cat env.out)"
finish
