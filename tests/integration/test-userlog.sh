#!/bin/bash
# Jobs' event logs (job file key `log`, Condor's user log): a job that
# runs and exits leaves "submitted", "executing" and "terminated" with its
# return value, byte for byte in Condor's format; held, released and
# removed jobs log why and by whom; `log:` with $(Process) gives each
# proc its own file; a restarted schedd neither repeats nor loses events;
# a log in a missing directory is refused at submit, naming file and line;
# a symbolic link at the log's path is never followed; as root, a
# nobody's job's log belongs to nobody.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds
start_startd ws1 "${STARTD_CONFIG[@]}"
ME=$(id -un)

# the events of a log with their time stamps taken out
events() { sed -E 's/^([0-9]{3} \([0-9.]+\)) [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} /\1 /' "$1"; }
has_events() { [ "$(grep -c '^\.\.\.$' "$1" 2>/dev/null)" = "$2" ]; }

# ---- a job that runs and exits 3 ----
cat >exit3.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "exit 3"]
log: exit3.log
checkpoint: none
YAML
ID=$(submit_id exit3.yaml)
C=$(printf '%03d' "${ID%.*}")
if wait_for 20 in_history "$ID"; then pass "the job completes"; else fail "the job completes" "$(q -a -l "$ID" | tail -3)"; fi
wait_for 5 has_events exit3.log 3
expected="000 ($C.000.000) Job submitted from host: <schedd@$(hostname)>
	Owner: $ME
...
001 ($C.000.000) Job executing on host: <slot1@ws1>
...
005 ($C.000.000) Job terminated.
	(1) Normal termination (return value 3)
..."
check_eq "the log: submitted, executing, terminated with the return value" "$expected" "$(events exit3.log)"
check_eq "each line is stamped with the date and time" "3" "$(grep -cE '^[0-9]{3} \([0-9.]+\) [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} ' exit3.log)"

# ---- a restarted schedd goes on where it stopped ----
stop_schedd
start_schedd "$TMP/s"
# ---- held, released, removed; a log per proc ----
cat >idle.yaml <<'YAML'
executable: /bin/true
requirements: false
log: idle.$(Process).log
queue: 2
YAML
IDLE=$(submit_id idle.yaml)
CL=${IDLE%.*}
C2=$(printf '%03d' "$CL")
pool hold --reason "waiting for data" "$CL.0" >/dev/null
pool release "$CL.0" >/dev/null
pool rm "$CL" >/dev/null
wait_for 5 has_events "idle.0.log" 4
wait_for 5 has_events "idle.1.log" 2
expected="000 ($C2.000.000) Job submitted from host: <schedd@$(hostname)>
	Owner: $ME
...
012 ($C2.000.000) Job was held.
	waiting for data (by $ME)
...
013 ($C2.000.000) Job was released.
	released by user (by $ME)
...
009 ($C2.000.000) Job was aborted.
	removed by user (by $ME)
..."
check_eq "proc 0's log: submitted, held (why, by whom), released, aborted" "$expected" "$(events idle.0.log)"
expected="000 ($C2.001.000) Job submitted from host: <schedd@$(hostname)>
	Owner: $ME
...
009 ($C2.001.000) Job was aborted.
	removed by user (by $ME)
..."
check_eq "proc 1 has its own log" "$expected" "$(events idle.1.log)"
check_eq "after the restart, the first job's log has each event once" "3" "$(grep -c '^\.\.\.$' exit3.log)"
check_contains "q -l shows the hold among the job's events" "held" "$(q -a --history -l "$CL.0")"

# ---- a schedd killed before it wrote an event writes it when it is back ----
printf 'executable: /bin/true\nrequirements: false\nlog: killed.log\n' >killed.yaml
KILLED=$(submit_id killed.yaml)
kill -9 "$SCHEDD_PID"; wait "$SCHEDD_PID" 2>/dev/null
start_schedd "$TMP/s"
if wait_for 5 has_events killed.log 1; then pass "an event committed before a crash reaches the log after it"; else fail "an event committed before a crash reaches the log after it" "$(cat killed.log 2>&1)"; fi
pool rm "$KILLED" >/dev/null
wait_for 5 has_events killed.log 2
check_eq "and nothing twice" "000 009" "$(grep -o '^[0-9]\{3\}' killed.log | xargs)"

# ---- a log in a directory that does not exist ----
printf 'executable: /bin/true\nlog: nowhere/job.log\n' >nodir.yaml
out=$(submit nodir.yaml 2>&1); rc=$?
check_status "a log in a missing directory is refused" 1 $rc
check_eq "the refusal names file, line and path" "nodir.yaml:2:6: the directory of log file \`$TMP/nowhere/job.log\` does not exist
submit: nothing submitted" "$out"

# ---- a symbolic link at the log's path is not followed ----
echo "precious" >precious
ln -s precious link.log
printf 'executable: /bin/true\nrequirements: false\nlog: link.log\n' >link.yaml
LINK=$(submit_id link.yaml)
pool rm "$LINK" >/dev/null
if wait_for 5 grep -q "cannot write its event log" s/schedd.log; then pass "a link at the log's path: the schedd says it cannot write"; else fail "a link at the log's path: the schedd says it cannot write" "$(tail -3 s/schedd.log)"; fi
check_eq "the link's target is untouched" "precious" "$(cat precious)"
check_contains "and the message says why" "link.log: Too many levels of symbolic links" "$(grep 'cannot write its event log' s/schedd.log)"

# ---- as root: the log of nobody's job belongs to nobody ----
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	mkdir -m 1777 shared
	printf 'executable: /bin/true\nrequirements: false\nlog: %s/shared/nobody.log\n' "$TMP" >shared/nobody.yaml
	chmod 644 shared/nobody.yaml
	chmod 755 "$TMP"
	NB=$(cd shared && setpriv --reuid=nobody --regid=nogroup --clear-groups env KITE_SCHEDD=$TMP/s/schedd.sock "$BIN/submit" nobody.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
	wait_for 5 test -s shared/nobody.log
	check_eq "nobody's log belongs to nobody" "nobody" "$(stat -c %U shared/nobody.log 2>/dev/null)"
	pool rm "$NB" >/dev/null
else
	echo "  skip the owner of a log written by a root schedd (not root)"
fi
finish
