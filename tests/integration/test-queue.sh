#!/bin/bash
# The job queue end to end: a real schedd in a temporary directory,
# submit / q / pool rm|hold|release|edit as a user would run them, bad job
# files refused with nothing submitted, and the queue surviving a restart.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s"
cd "$TMP"
cat >job.yaml <<'YAML'
executable: /bin/echo
arguments: [hello, "$(Cluster).$(Process)"]
output: out.$(Process)
request_memory: 256
queue: 3
YAML

out=$(submit job.yaml 2>&1); rc=$?
check_status "submit" 0 $rc
check_eq "submit prints the ids" "3 job(s) submitted to cluster 1." "$out"

out=$(q)
check_eq "q header" "ID         OWNER      SUBMITTED   RUN_TIME     ST PRI SIZE   CKPT     HOST         CMD" "$(echo "$out" | head -1)"
check_eq "q lists three jobs" "3" "$(echo "$out" | grep -c '^1\.[0-2] ')"
check_contains "q shows the command with per-proc arguments" "echo hello 1.2" "$out"
check_contains "q row" "0+00:00:00   I  0   0.0    -        -            echo hello 1.0" "$out"
check_eq "q footer" "Total: 3 jobs; 3 idle, 0 running, 0 held, 0 suspended" "$(echo "$out" | tail -1)"

out=$(q -l 1.1)
check_contains "q -l shows ProcId" "ProcId = 1" "$out"
check_contains "q -l shows Owner" "Owner = \"$(id -un)\"" "$out"
check_contains "q -l shows expanded output" 'out.1"' "$out"
check_contains "q -l shows RequestMemory" "RequestMemory = 256" "$out"
check_contains "q -l shows default requirements" 'TARGET.Arch == "X86_64"' "$out"

out=$(q --constraint 'ProcId >= 1 && RequestMemory == 256' | grep -c '^1\.')
check_eq "q --constraint" "2" "$out"
out=$(q --constraint 'ProcId >=' 2>&1); rc=$?
check_status "q with a bad constraint" 1 $rc
check_contains "bad constraint names the column" "constraint, column" "$out"

out=$(q --json)
check_eq "q --json is JSON with three jobs" "3 1.2 256" \
	"$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), d[2]["id"], d[0]["attributes"]["RequestMemory"])')"

out=$(pool hold --reason "disk full" 1.1); rc=$?
check_status "pool hold" 0 $rc
check_eq "pool hold output" "job 1.1 held" "$out"
out=$(q --held)
check_contains "q --held shows the reason" "disk full (by $(id -un))" "$out"
check_eq "q --held lists one job" "1" "$(echo "$out" | grep -c '^1\.1 ')"
check_eq "q --state held" "1.1" "$(q --state held | awk '/^1\./{print $1}')"
check_eq "q -s I (letters work too)" "1.0 1.2" "$(q -s I | awk '/^1\./{print $1}' | xargs)"
out=$(pool hold 1.1 2>&1); rc=$?
check_status "holding a held job" 1 $rc
check_eq "holding a held job says so" "pool: job 1.1 is already held" "$out"
out=$(pool release 1.1 1.0 2>&1); rc=$?
check_status "release of a held and an idle job" 1 $rc
check_contains "release reports the released job" "job 1.1 released" "$out"
check_contains "release reports the idle job" "pool: job 1.0 is not held (it is idle)" "$out"

out=$(q --state sleeping 2>&1); rc=$?
check_status "q with an unknown state" 2 $rc
check_contains "unknown state lists the valid ones" "use idle, running, held" "$out"

out=$(pool edit 1.2 JobPrio 7); rc=$?
check_status "pool edit" 0 $rc
check_eq "pool edit output" "job 1.2: JobPrio set" "$out"
check_contains "edited priority shows in q" "1.2" "$(q | awk '$7 == 7')"
check_eq "q -af: values, strings bare, expressions, undefined" "2 8 /bin/echo! undefined" "$(q 1.2 -af ProcId 'JobPrio + 1' 'strcat(Cmd, "!")' NoSuchAttr)"
check_eq "q -af: one line per job" "$(printf '1.1 root\n1.2 root')" "$(q 1.1 1.2 -af 'strcat(ClusterId, ".", ProcId)' Owner | sed "s/ $(id -un)\$/ root/")"
out=$(q -af 'Memory >' 2>&1); rc=$?
check_status "q -af with a bad expression" 2 $rc
check_contains "says which and where" 'q: -af: "Memory >", column' "$out"
out=$(q -af 2>&1); rc=$?
check_status "q -af without expressions" 2 $rc
out=$(pool edit 1.2 Arguments '"goodbye 1.2"'); rc=$?
check_status "pool edit Arguments" 0 $rc
check_eq "q's CMD shows the edited arguments" "echo goodbye 1.2" "$(q 1.2 | awk '$1 == "1.2" { sub(/.* echo /, "echo "); print }')"
check_eq "q -l shows the edited arguments" 'Arguments = "goodbye 1.2"' "$(q -l 1.2 | grep '^Arguments = ')"
out=$(pool edit 1.2 Owner '"mallory"' 2>&1); rc=$?
check_status "editing Owner is refused" 1 $rc
check_eq "editing Owner says why" "pool: \`Owner\` is maintained by the schedd and cannot be edited" "$out"

out=$(pool rm 1.0 2>&1); rc=$?
check_status "pool rm" 0 $rc
out=$(pool rm 7.0 2>&1); rc=$?
check_status "pool rm of a missing job" 1 $rc
check_eq "missing job is named" "pool: job 7.0 not found" "$out"
out=$(pool rm 1.x 2>&1); rc=$?
check_status "pool rm with a bad id" 2 $rc
check_contains "bad id is explained" '"1.x" is not a job id' "$out"
check_eq "history holds the removed job" "1" "$(q --history | grep -c '^1\.0 ')"
check_contains "history footer" "Total: 1 jobs; 0 completed, 1 removed" "$(q --history)"
check_contains "q -l on history shows RemoveReason" 'RemoveReason = "removed by user"' "$(q --history -l 1.0)"

# Bad job files: a clear error with file:line:col, and nothing submitted.
cat >bad.yaml <<'YAML'
executable: /bin/echo
request_memroy: 10
YAML
before=$(q | tail -1)
out=$(submit bad.yaml 2>&1); rc=$?
check_status "submit of a bad file" 1 $rc
check_contains "error names file, line and column" "bad.yaml:2:1:" "$out"
check_contains "error suggests the right key" "request_memory" "$out"
check_contains "error says nothing was submitted" "submit: nothing submitted" "$out"
check_eq "queue unchanged after a bad file" "$before" "$(q | tail -1)"
out=$(submit missing.yaml 2>&1); rc=$?
check_status "submit of a missing file" 1 $rc
check_contains "missing file is named" "missing.yaml" "$out"

out=$(printf 'executable: /bin/true\nqueue: 2\n' | submit -); rc=$?
check_status "submit from standard input" 0 $rc
check_eq "submit - output" "2 job(s) submitted to cluster 2." "$out"
out=$(submit --dry-run job.yaml); rc=$?
check_status "submit --dry-run" 0 $rc
check_contains "dry run shows the procs" "-- job 0.2" "$out"
check_eq "dry run submits nothing" "Total: 4 jobs; 4 idle, 0 running, 0 held, 0 suspended" "$(q | tail -1)"

# Durability across a restart (clean and SIGKILL).
stop_schedd
start_schedd "$TMP/s"
check_eq "jobs survive a restart" "Total: 4 jobs; 4 idle, 0 running, 0 held, 0 suspended" "$(q | tail -1)"
kill -9 "$SCHEDD_PID"; wait "$SCHEDD_PID" 2>/dev/null
start_schedd "$TMP/s"
out=$(submit job.yaml)
check_eq "cluster ids continue after SIGKILL" "3 job(s) submitted to cluster 3." "$out"

# --watch redraws in place until interrupted.
out=$(timeout 2.5 q --watch --interval 1 2>&1)
check_eq "q --watch redraws" "2" "$(printf '%s' "$out" | grep -o $'\033\[H\033\[2J' | wc -l | awk '{print ($1 >= 2) ? 2 : $1}')"
check_contains "q --watch shows the queue" "Total: 7 jobs" "$out"

# Every daemon runs with no config file at all, on defaults (Unix socket
# in the state directory, TCP on 127.0.0.1:9618).
if ! (exec 3<>/dev/tcp/127.0.0.1/9618) 2>/dev/null; then
	"$BIN/schedd" --state-dir "$TMP/noconf" 2>"$TMP/noconf.log" &
	PIDS+=($!)
	wait_for 10 test -S "$TMP/noconf/schedd.sock"
	check_eq "schedd without a config listens on the default port" "127.0.0.1:9618" "$(cat "$TMP/noconf/schedd.addr" 2>/dev/null)"
	check_contains "schedd without a config answers" "Total: 0 jobs" "$(KITE_SCHEDD=$TMP/noconf/schedd.sock q)"
	check_eq "it made a pool key of mode 0600" "600" "$(stat -c %a "$TMP/noconf/pool.key")"
	kill "${PIDS[-1]}"
else
	echo "  (port 9618 is in use here: skipping the no-config start)"
fi
out=$(schedd --config "$TMP/bad-config.yaml" --state-dir "$TMP/x" 2>&1); rc=$?
check_status "schedd with a missing config file" 2 $rc
check_contains "missing config file is named" "bad-config.yaml" "$out"
printf 'listen: 127.0.0.1:0\nmax_job: 5\n' >"$TMP/typo.yaml"
out=$(schedd --config "$TMP/typo.yaml" --state-dir "$TMP/x" 2>&1); rc=$?
check_status "schedd with a typo in its config" 2 $rc
check_contains "config typo: file, line, column and suggestion" "typo.yaml:2:1: unknown key \`max_job\`" "$out"
check_contains "schedd --help-config lists keys" "max_jobs_per_owner" "$(schedd --help-config)"

# custom attributes (`+Name: value`) are the job's, for q and constraints
printf 'executable: /bin/true\n+Project: "chem $(Process)"\n+Weight: 2 * 3\nqueue: 2\n' >custom.yaml
CID=$(submit custom.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
check_eq "custom attributes: strings (with macros) and expressions" "$(printf 'chem 0 6\nchem 1 6')" "$(q "$CID" -af Project Weight)"
check_eq "and constraints see them" "$CID.1" "$(q -c 'Project == "chem 1"' -af 'strcat(ClusterId, ".", ProcId)')"
pool rm "$CID" >/dev/null

# Limits refuse clearly and leave nothing half-done.
start_schedd "$TMP/lim" "max_jobs_per_submit: 5" "max_jobs_per_owner: 7"
printf 'executable: /bin/true\nqueue: 6\n' >six.yaml
printf 'executable: /bin/true\nqueue: 4\n' >four.yaml
out=$(submit six.yaml 2>&1); rc=$?
check_status "a submission over max_jobs_per_submit" 1 $rc
check_contains "per-submit limit named" "submission of 6 procs is over the limit of 5 per submission (max_jobs_per_submit)" "$out"
submit four.yaml >/dev/null
out=$(submit four.yaml 2>&1); rc=$?
check_status "a submission over max_jobs_per_owner" 1 $rc
check_contains "per-owner limit named" "has 4 jobs; 4 more would be over the limit of 7 per user (max_jobs_per_owner)" "$out"
check_eq "nothing half-submitted" "Total: 4 jobs; 4 idle, 0 running, 0 held, 0 suspended" "$(q | tail -1)"
export KITE_SCHEDD=$TMP/s/schedd.sock

# No schedd: a clear message.
out=$(KITE_SCHEDD=$TMP/nowhere.sock q 2>&1); rc=$?
check_status "q without a schedd" 1 $rc
check_contains "q says where it looked" "cannot reach the schedd at $TMP/nowhere.sock" "$out"

finish
