#!/bin/bash
# The agent's choice of a checkpoint server (issue 6): two ckpt_servers
# advertise to the schedd, one on the workstation's subnet.  A
# checkpointed job gets that one (q -l says why), `pool vacate` sends its
# checkpoint there and nowhere else, and it resumes from it and completes
# with the output of an uninterrupted run.
. "$(dirname "$0")/lib.sh"

COUNTER=$ROOT/bin/tests/programs/counter
[ -x "$COUNTER" ] || { echo "SKIP: $COUNTER not built"; exit 77; }
start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
chmod 755 "$TMP"
"$COUNTER" 60 50 >ref.txt
cp "$COUNTER" counter

# start_server NAME SUBNET: a ckpt_server advertising to the schedd
start_server() {
	mkdir -p "$1"
	cp s/pool.key "$1/pool.key"
	printf 'listen: 127.0.0.1:0\nschedd: %s\nadvertise_interval: 1s\nsubnet: %s\nsite: lab\n' "$SCHEDD_ADDR" "$2" \
		>"$1/server.yaml"
	"$BIN/ckpt_server" --config "$1/server.yaml" --state-dir "$1" 2>>"$1/log" &
	PIDS+=($!)
	wait_for 10 test -s "$1/ckpt_server.addr" || { fail "$1 did not start" "$(cat "$1/log")"; finish; }
}
start_server far 10.9.9
start_server near 10.1.1
FAR=$(cat far/ckpt_server.addr)
NEAR=$(cat near/ckpt_server.addr)
if wait_for 10 bash -c "pool status --ckpt-servers | grep -c ckpt_server@ | grep -qx 2"; then pass "both servers advertise"; else fail "both servers advertise" "$(pool status --ckpt-servers)"; fi

ACTIVITY_AGE='-1 hour'
POLL=0.1s
START_IDLE=1s
mkdir -m 1777 jobs
start_startd ws1 "activity_sources: [load]" "benchmark: false" "memory: 1G" "subnet: 10.1.1" "site: lab" \
	"checkpoint_dir: $TMP/jobs"
printf 'executable: counter\narguments: ["60", "50"]\noutput: count.out\nerror: count.err\n' >count.yaml
ID=$(submit count.yaml | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p')
if wait_for 15 status_is "$ID" R; then pass "the job runs"; else fail "the job runs" "$(q -a "$ID"; tail -5 s/schedd.log)"; fi
out=$(q -a -l "$ID")
check_contains "the agent chose the server on the machine's subnet" "CheckpointServer = \"$NEAR\"" "$out"
check_contains "and says why" "CheckpointServerChoice = \"ckpt_server@$NEAR ($NEAR): on the machine's subnet" "$out"
check_contains "the job knows where its checkpoint is" 'CheckpointServerSubnet = "10.1.1"' "$out"

sleep 1
check_eq "pool vacate" "job $ID: asked to checkpoint and leave its machine" "$(pool vacate "$ID" 2>&1)"
if wait_for 15 bash -c "q -a -l $ID | grep -q 'NumCheckpoints = 1'"; then pass "the job checkpointed"; else fail "the job checkpointed" "$(q -a -l "$ID" | tail -12; tail -5 ws1/startd.log)"; fi
check_contains "to the near server" "LastCheckpointImage = \"server:$NEAR/" "$(q -a -l "$ID")"
check_contains "the near server holds it" "committed" "$(KITE_POOL_KEY_FILE=$TMP/s/pool.key pool ckpt --ckpt-server "$NEAR" ls)"
check_not_contains "the far one nothing" "committed" "$(KITE_POOL_KEY_FILE=$TMP/s/pool.key pool ckpt --ckpt-server "$FAR" ls)"
if wait_for 30 in_history "$ID"; then pass "it resumes and completes"; else fail "it resumes and completes" "$(q -a "$ID"; tail -5 ws1/startd.log)"; fi
check_contains "from the near server" "restarting the job from server:$NEAR/" "$(cat ws1/startd.log)"
if cmp -s ref.txt count.out; then pass "output byte for byte that of an uninterrupted run"; else fail "output byte for byte that of an uninterrupted run" "$(diff ref.txt count.out | head -5)"; fi
finish
