#!/bin/bash
# Eviction and migration with a checkpoint (issue 6), on loopback, twice:
# images in a checkpoint directory both machines share, then on a real
# ckpt_server (each machine with a small local job directory).  A
# counting job runs on one machine; its owner comes back: the job is
# suspended, then vacated — checkpointed by libckpt and gone — and goes
# back to Idle with that checkpoint; it resumes on the other machine from
# it (not from the start) and completes.  Its output is byte for byte
# that of a run that was never interrupted, and the queue has the story.
. "$(dirname "$0")/lib.sh"

COUNTER=$ROOT/bin/tests/programs/counter
[ -x "$COUNTER" ] || { echo "SKIP: $COUNTER not built"; exit 77; }

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
chmod 755 "$TMP"

STEPS=80
"$COUNTER" $STEPS 50 >ref.txt || fail "the reference run failed"
cp "$COUNTER" counter
ACTIVITY_AGE='-1 hour'
POLL=0.1s
START_IDLE=1s
find_job() { our_pids '^\./counter 80 50$' >/dev/null; }

# evict_and_migrate MODE FROM TO [startd config…]: the story above, from
# machine FROM (started here, idle) to machine TO (started after the vacate).
evict_and_migrate() {
	local mode=$1 from=$2 to=$3; shift 3
	echo "-- $mode: from $from to $to"
	start_startd "$from" "activity_sources: [load]" "benchmark: false" "memory: 1G" \
		"max_suspend_time: 1s" "continue_idle_time: 1h" "$@"
	local from_pid=$STARTD_PID
	cat >count.yaml <<YAML
executable: counter
arguments: ["$STEPS", "50"]
output: count-$mode.out
error: count-$mode.err
YAML
	local id
	id=$(submit count.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
	if wait_for 15 status_is "$id" R; then pass "$mode: the job runs on $from"; else fail "$mode: the job runs on $from" "$(q -a "$id"; tail -5 s/schedd.log)"; fi
	wait_for 10 find_job
	sleep 1.5 # some steps done

	# the owner comes back to $from and stays
	( for i in $(seq 1 100); do touch "$from/activity"; sleep 0.1; done ) &
	PIDS+=($!)
	if wait_for 5 grep -q "suspending job" "$from/startd.log"; then pass "$mode: owner activity suspends the job"; else fail "$mode: owner activity suspends the job" "$(tail -5 "$from/startd.log")"; fi
	if wait_for 15 status_is "$id" I; then pass "$mode: then vacates it: the job is Idle again"; else fail "$mode: then vacates it: the job is Idle again" "$(q -a "$id"; tail -8 "$from/startd.log")"; fi
	check_contains "$mode: $from vacated it with a checkpoint" "vacating job" "$(cat "$from/startd.log")"
	local out
	out=$(q -a -l "$id")
	check_contains "$mode: q -l: one checkpoint" "NumCheckpoints = 1" "$out"
	check_contains "$mode: q -l: the image" "LastCheckpointImage = \"$IMAGE_PREFIX" "$out"
	check_contains "$mode: q -l: its size" "CheckpointSize = " "$out"
	check_not_contains "$mode: q -l never shows capabilities" "CheckpointCaps" "$out"
	check_contains "$mode: q -l: why it left" "LastRequeueReason = \"vacated from slot1@$from: the owner policy preempted it\"" "$out"
	# What the vacated run used (measured where the startd has cgroups):
	# the history's CPU times must add the resumed run's to it.
	local cgroups='' cpu1
	grep -q "jobs run in cgroups" "$from/startd.log" && cgroups=1
	cpu1=$(echo "$out" | awk -F' = ' '$1 == "RemoteUserCpu" {u = $2} $1 == "RemoteSysCpu" {s = $2} END {if (u != "") print u + s}')
	[ -z "$cgroups" ] || check_contains "$mode: q -l: what the vacated run used" "MemoryUsage = " "$out"
	local col
	col=$(q -a "$id" | awk -v id="$id" '$1 == id {print $8}')
	if [ -n "$col" ] && [ "$col" != "-" ]; then pass "$mode: q shows the checkpoint ($col)"; else fail "$mode: q shows the checkpoint" "$(q -a "$id")"; fi
	# (libckpt's checkpoint child, a fork of the job, may take a moment to go)
	if wait_for 5 none_of_ours '^\./counter 80 50$'; then pass "$mode: nothing of the job is left on $from"; else fail "$mode: nothing of the job is left on $from" "$(our_procs counter)"; fi
	kill "$from_pid"; wait "$from_pid" 2>/dev/null

	# $to (idle) takes it and resumes it from the checkpoint
	start_startd "$to" "activity_sources: [load]" "benchmark: false" "memory: 1G" "$@"
	local to_pid=$STARTD_PID
	if wait_for 20 in_history "$id"; then pass "$mode: the job resumes on $to and completes"; else fail "$mode: the job resumes on $to and completes" "$(q -a "$id"; tail -8 "$to/startd.log")"; fi
	check_contains "$mode: $to restarted it from the image" "restarting the job from $IMAGE_PREFIX" "$(cat "$to/startd.log")"
	if cmp -s ref.txt "count-$mode.out"; then pass "$mode: its output is byte for byte that of an uninterrupted run ($(wc -l <"count-$mode.out") lines)"; else fail "$mode: its output is byte for byte that of an uninterrupted run" "$(diff ref.txt "count-$mode.out" | head -5; tail -3 "$to/startd.log")"; fi
	check_eq "$mode: stderr is empty" "" "$(cat "count-$mode.err")"
	local hist
	hist=$(q -a --history -l "$id")
	check_contains "$mode: the history ad keeps the checkpoint count" "NumCheckpoints = 1" "$hist"
	check_contains "$mode: and where it ran last" "RemoteHost = \"slot1@$to\"" "$hist"
	if [ -n "$cgroups" ]; then
		local cpu2
		cpu2=$(echo "$hist" | awk -F' = ' '$1 == "RemoteUserCpu" {u = $2} $1 == "RemoteSysCpu" {s = $2} END {if (u != "") print u + s}')
		if [ -n "$cpu1" ] && [ -n "$cpu2" ] && awk -v a="$cpu1" -v b="$cpu2" 'BEGIN { exit !(b > a) }'; then pass "$mode: the history's CPU time adds both runs' ($cpu1 s, then $cpu2 s)"; else fail "$mode: the history's CPU time adds both runs'" "vacated run: '$cpu1', history: '$cpu2'"; fi
	fi
	check_contains "$mode: q -l tells the job's story" "# events, oldest first" "$hist"
	local story
	story=$(echo "$hist" | awk '/^#   / {print $4, $5}' | xargs)
	check_eq "$mode: every run, suspension, checkpoint and eviction, with its machine" \
		"checkpoint-interval slot1@$from started slot1@$from suspended slot1@$from checkpoint slot1@$from requeued slot1@$from checkpoint-interval slot1@$to started slot1@$to exited slot1@$to" "$story"
	check_contains "$mode: and the reason of the eviction" "vacated from slot1@$from: the owner policy preempted it" \
		"$(echo "$hist" | grep '^#  .* requeued ')"
	local events
	events=$(sqlite3 s/queue.db "SELECT event || ' ' || host FROM events WHERE cluster = ${id%.*} ORDER BY rowid" | xargs)
	check_eq "$mode: the queue recorded every event" \
		"checkpoint-interval slot1@$from started slot1@$from suspended slot1@$from checkpoint slot1@$from requeued slot1@$from checkpoint-interval slot1@$to started slot1@$to exited slot1@$to" "$events"
	check_contains "$mode: the agent chose the checkpoint interval by Young's rule" \
		"CheckpointIntervalChoice = \"Young: sqrt(2 x 5 s assumed checkpoint cost x 3600 s between evictions of $from) = 190 s" "$out"
	check_eq "$mode: no capabilities are left in the queue once it is done" "0" \
		"$(sqlite3 s/queue.db "SELECT count(*) FROM job_secrets")"
	kill "$to_pid"; wait "$to_pid" 2>/dev/null
}

# 1. a checkpoint directory shared by both machines, like an NFS export
mkdir -m 1777 "$TMP/ckpt"
IMAGE_PREFIX=$TMP/ckpt/
evict_and_migrate dir ws1 ws2 "checkpoint_dir: $TMP/ckpt"

# 2. a checkpoint server; each machine keeps only a small job directory
mkdir -p srv
cp s/pool.key srv/pool.key
echo "listen: 127.0.0.1:0" >srv/server.yaml
"$BIN/ckpt_server" --config srv/server.yaml --state-dir srv 2>>srv/log &
PIDS+=($!)
wait_for 10 test -s srv/ckpt_server.addr || { fail "ckpt_server did not start" "$(cat srv/log)"; finish; }
SRV=$(cat srv/ckpt_server.addr)
mkdir -m 1777 "$TMP/jobs"
IMAGE_PREFIX=server:$SRV/
# (each machine its own job directory, at a path of its own: the restarted
# program is told its new one)
evict_and_migrate server ws3 ws4 "ckpt_server: $SRV"
check_contains "server: the startd allocated the job's space as a pool daemon" "checkpoint space" "$(cat ws3/startd.log)"
check_contains "server: and deleted it when the job ended" "deleted: the job ended" "$(cat ws4/startd.log)"
check_eq "server: and its job directory on the machine is gone" "" "$(ls ws4/checkpoints 2>/dev/null)"
check_not_contains "server: no committed image is left on the server" "committed" \
	"$(KITE_POOL_KEY_FILE=$TMP/s/pool.key pool ckpt --ckpt-server "$SRV" ls 2>&1)"

# 3. moved twice through the server: vacated from the machine it was
# restarted on, it resumes from that second image (in a third sandbox,
# with the second machine's files moved).  Each owner comes back and stays
# (`preempt: KeyboardBusy`: vacated at once), so the job cannot go back.
come_back() { ( for i in $(seq 1 300); do touch "$1/activity"; sleep 0.1; done ) & PIDS+=($!); }
start_startd ws5 "activity_sources: [load]" "benchmark: false" "memory: 1G" "ckpt_server: $SRV" "preempt: KeyboardBusy"
# (slower steps, same output: time for two moves even on a busy machine)
printf 'executable: counter\narguments: ["%s", "250"]\noutput: count-twice.out\nerror: count-twice.err\n' $STEPS >twice.yaml
ID=$(submit twice.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
wait_for 15 status_is "$ID" R && wait_for 10 our_pids "^\./counter $STEPS 250$" >/dev/null
sleep 1
come_back ws5
if wait_for 15 status_is "$ID" I; then pass "twice: vacated from ws5"; else fail "twice: vacated from ws5" "$(q -a "$ID"; tail -5 ws5/startd.log)"; fi
start_startd ws6 "activity_sources: [load]" "benchmark: false" "memory: 1G" "ckpt_server: $SRV" "preempt: KeyboardBusy"
if wait_for 15 grep -q "restarting the job" ws6/startd.log && wait_for 10 status_is "$ID" R; then pass "twice: resumed on ws6"; else fail "twice: resumed on ws6" "$(q -a "$ID"; tail -5 ws6/startd.log)"; fi
sleep 1
come_back ws6
if wait_for 15 bash -c "q -a -l $ID | grep -q 'NumCheckpoints = 2'"; then pass "twice: the second vacate's checkpoint is recorded"; else fail "twice: the second vacate's checkpoint is recorded" "$(q -a -l "$ID" | grep -i checkpoint; tail -5 ws6/startd.log)"; fi
check_contains "twice: with the sandbox it was taken in" "LastCheckpointSandbox = \"$TMP/ws6/execute/" "$(q -a -l "$ID")"
wait_for 15 status_is "$ID" I
start_startd ws7 "activity_sources: [load]" "benchmark: false" "memory: 1G" "ckpt_server: $SRV"
if wait_for 40 in_history "$ID"; then pass "twice: resumed on ws7 from ws6's image and completed"; else fail "twice: resumed on ws7 from ws6's image and completed" "$(q -a -l "$ID" | grep -i 'reason\|checkpoint'; tail -5 ws7/startd.log)"; fi
check_not_contains "twice: no restart failed" "restart-failed" "$(q -a --history -l "$ID")"
check_contains "twice: three runs, on ws5, ws6 and ws7" "started slot1@ws5 started slot1@ws6 started slot1@ws7" \
	"$(sqlite3 s/queue.db "SELECT event || ' ' || host FROM events WHERE cluster = ${ID%.*} AND event = 'started' ORDER BY rowid" | xargs)"
if cmp -s ref.txt count-twice.out; then pass "twice: output byte for byte that of an uninterrupted run"; else fail "twice: output byte for byte that of an uninterrupted run" "$(diff ref.txt count-twice.out | head -5)"; fi
finish
