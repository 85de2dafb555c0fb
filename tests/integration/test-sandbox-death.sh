#!/bin/bash
# A workstation that dies costs only the work since the last periodic
# checkpoint (issue 6) — files included.  tests/programs/phases writes and
# closes a file every ten steps and checks them all at the end.  It runs
# on ws1 with periodic checkpoints to a ckpt_server; once a checkpoint
# taken after phase-20.txt is in the queue, ws1 dies: its startd and the
# job are SIGKILLed, nothing is vacated, nothing is spooled.  The job
# resumes on ws2 from that checkpoint (not from the start), gets back from
# the image the files it closed on ws1, completes, and its stdout, stderr
# and every phase file are byte for byte those of an uninterrupted run.
. "$(dirname "$0")/lib.sh"

PHASES=$ROOT/bin/tests/programs/phases
[ -x "$PHASES" ] || { echo "SKIP: $PHASES not built"; exit 77; }

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
mkdir ref
(cd ref && exec "$PHASES" 90 130 >out.txt 2>err.txt) & # the reference, meanwhile
REF=$!
cp "$PHASES" phases

mkdir -p srv
cp s/pool.key srv/pool.key
echo "listen: 127.0.0.1:0" >srv/server.yaml
"$BIN/ckpt_server" --config srv/server.yaml --state-dir srv 2>>srv/log &
PIDS+=($!)
wait_for 10 test -s srv/ckpt_server.addr || { fail "ckpt_server did not start" "$(cat srv/log)"; finish; }
SRV=$(cat srv/ckpt_server.addr)

# a lost startd is noticed within ClaimLease (claim_lease 2 s + polls)
# (a file every 1.3 s, a checkpoint every second: a checkpoint that
# coincides with a new file is refused, the next one is not)
job_startds "ckpt_server: $SRV" "claim_lease: 2s" "schedd_timeout: 0.5s"
start_startd ws1 "${STARTD_CONFIG[@]}"
WS1=$STARTD_PID
cat >phases.yaml <<'YAML'
executable: phases
arguments: ["90", "130"]
output: phases.out
error: phases.err
checkpoint: {interval: 1s}
YAML
ID=$(submit_id phases.yaml)
attr() { q -a -l "$1" 2>/dev/null | sed -n "s/^$2 = //p"; }
checkpoints() { local n; n=$(attr "$ID" NumCheckpoints); echo "${n:-0}"; }
if wait_for 15 status_is "$ID" R; then pass "the job runs on ws1"; else fail "the job runs on ws1" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
wait_for 15 bash -c "ls $TMP/ws1/execute/*/phase-20.txt" >/dev/null 2>&1 || fail "the job did not reach step 20" "$(ls -R ws1/execute | head)"
n0=$(checkpoints)
if wait_for 10 bash -c "[ \$(q -a -l $ID | sed -n 's/^NumCheckpoints = //p') -gt $n0 ]"; then
	pass "a periodic checkpoint taken after phase-20.txt reaches the queue"
else
	fail "a periodic checkpoint taken after phase-20.txt reaches the queue" "$(q -a -l "$ID" | grep -i checkpoint; tail -5 ws1/startd.log)"
fi

# ws1 dies: its startd, the job and its checkpoint children, all at once
sandbox=$(ls -d ws1/execute/*/ | head -1)
job_pids() {
	local p
	for p in /proc/[0-9]*; do
		case $(readlink "$p/cwd" 2>/dev/null) in "$TMP/ws1/execute/"*) echo "${p#/proc/}" ;; esac
	done
}
kill -9 "$WS1" $(job_pids) 2>/dev/null
wait "$WS1" 2>/dev/null
sleep 0.2
kill -9 $(job_pids) 2>/dev/null
check_eq "nothing of the job runs after ws1 died" "" "$(job_pids | xargs)"
done_on_ws1=$(ls "$sandbox" | grep -c '^phase-')
check_eq "nothing was spooled (no vacate)" "" "$(ls -A "s/spool/$(id -un)/$ID" 2>/dev/null)"

start_startd ws2 "${STARTD_CONFIG[@]}"
if wait_for 40 in_history "$ID"; then pass "it resumes on ws2 and completes"; else fail "it resumes on ws2 and completes" "$(q -a -l "$ID" | grep -i 'reason\|checkpoint'; tail -5 ws2/startd.log)"; fi
check_contains "ws2 restarted it from the periodic checkpoint" "restarting the job from server:$SRV/" "$(cat ws2/startd.log)"
check_contains "the requeue says ws1's startd was lost" "lost the startd of slot1@ws1" \
	"$(q -a --history -l "$ID" | sed -n 's/^LastRequeueReason = //p')"
wait $REF || fail "the reference run of phases failed" "$(cat ref/err.txt)"
if cmp -s ref/out.txt phases.out; then pass "stdout is byte for byte that of an uninterrupted run ($(wc -l <phases.out) lines)"; else fail "stdout is byte for byte that of an uninterrupted run" "$(diff ref/out.txt phases.out | head -5)"; fi
check_eq "stderr is empty" "" "$(cat phases.err 2>/dev/null)"
for n in 0 10 20 30 40 50 60 70 80; do
	cmp -s "ref/phase-$n.txt" "phase-$n.txt" || fail "phase-$n.txt came home as the uninterrupted run wrote it" "$(cat "phase-$n.txt" 2>&1)"
done
pass "all nine phase files came home ($done_on_ws1 of them written on ws1 before it died)"
finish
