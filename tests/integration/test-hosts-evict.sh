#!/bin/bash
# Eviction and migration with checkpoints across hosts (issue 6), on
# hosts.sh's namespace network: a schedd on "submit", startds on "ws1",
# "ws2" and "ws3", a checkpoint server on "ckpt".  Counting jobs
# (tests/programs/counter), whose output must always be byte for byte
# that of an uninterrupted run:
#   - the owner comes back to the job's host: suspended, vacated with a
#     checkpoint, resumed on another host from that checkpoint;
#   - the job's host dies (kill_host) after a periodic checkpoint: the job
#     resumes elsewhere from that checkpoint, not from scratch;
#   - the job's host is cut off (link_down) and comes back (link_up): the
#     job never runs on two hosts at once, the cut-off run's later
#     checkpoints and outputs are not taken, and it completes once;
#   - (images on the server only) the server restarts during a vacate:
#     the job still completes, from that image or the one before.
#
# Where images live is one switch: CKPT_SERVER=1 (the default: startd
# key `ckpt_server`, images on the server on host "ckpt", each job's
# directory on the startds holding only its caps and token) or
# CKPT_SERVER=0 (images in a checkpoint_dir shared by every host, like
# an NFS export: hosts share this machine's file system).
CKPT_SERVER=${CKPT_SERVER:-1}

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"

COUNTER=$ROOT/bin/tests/programs/counter
[ -x "$COUNTER" ] || { echo "SKIP: $COUNTER not built"; exit 77; }

make_hosts submit ws1 ws2 ws3 ckpt
start_schedd_on submit "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.2s"
cd "$TMP"
cp "$COUNTER" counter
# ClaimLease = claim_lease 2 + poll 0.1 + 4 × schedd_timeout 0.5 → 5 s.
# An owner who comes back suspends the job at once and has it vacated
# 1 s later; a suspended job does not continue.
# A vacate that has not ended after 3 s is killed.
job_startds "claim_lease: 2s" "schedd_timeout: 0.5s" "max_suspend_time: 1s" "continue_idle_time: 1h" \
	"max_vacate_time: 3s"

# ---- where the images go ----
SRV_DIR=$TMP/ckpt-server
start_ckpt_server() {
	mkdir -p "$SRV_DIR"
	[ -f "$SRV_DIR/pool.key" ] || cp s/pool.key "$SRV_DIR/pool.key"
	# a restart keeps the port: the queue's images name HOST:PORT
	echo "listen: $(host_ip ckpt):${SRV_PORT:-0}" >"$SRV_DIR/ckpt_server.yaml"
	rm -f "$SRV_DIR/ckpt_server.addr"
	# (nsenter itself, not on_host: $! must be the server)
	nsenter --net="/run/netns/$(host_ns ckpt)" -- "$BIN/ckpt_server" --config "$SRV_DIR/ckpt_server.yaml" \
		--state-dir "$SRV_DIR" 2>>"$SRV_DIR/log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	wait_for 10 test -s "$SRV_DIR/ckpt_server.addr" || { echo "ckpt_server did not start: $(tail -3 "$SRV_DIR/log")"; exit 1; }
	SRV=$(cat "$SRV_DIR/ckpt_server.addr")
	SRV_PORT=${SRV##*:}
}
if [ "$CKPT_SERVER" = 1 ]; then
	start_ckpt_server
	# the same path on every host (docs/running-jobs.md), though
	# nothing but caps, token and status goes there
	mkdir -m 1777 jobs
	ckpt_config() { echo "ckpt_server: $SRV"; echo "checkpoint_dir: $TMP/jobs"; }
	IMAGE_PREFIX=server:$SRV/
else
	mkdir -m 1777 ckpt # shared by every host
	ckpt_config() { echo "checkpoint_dir: $TMP/ckpt"; }
	IMAGE_PREFIX=\"$TMP/ckpt/
fi
start_ws() {
	local lines
	mapfile -t lines < <(ckpt_config "$1")
	start_startd_on "$1" "$1" "${STARTD_CONFIG[@]}" "${lines[@]}"
	eval "${1^^}_PID=$STARTD_PID"
}
for w in ws1 ws2 ws3; do start_ws $w; done
all_free() { states_are ws1 Unclaimed && states_are ws2 Unclaimed && states_are ws3 Unclaimed; }
if wait_for 15 all_free; then pass "ws1, ws2 and ws3 advertise over the bridge"; else fail "ws1, ws2 and ws3 advertise over the bridge" "$(pool status)"; fi

attr() { q -a -l "$1" 2>/dev/null | sed -n "s/^$2 = //p"; }
hist_attr() { q -a --history -l "$1" 2>/dev/null | sed -n "s/^$2 = //p"; }
running_on() { [ "$(attr "$1" RemoteHost)" == "\"slot1@$2\"" ] && status_is "$1" R; }
running_elsewhere() { local h; h=$(attr "$1" RemoteHost); status_is "$1" R && [ -n "$h" ] && [ "$h" != "\"slot1@$2\"" ]; }
has_checkpoint() { [ "$(attr "$1" NumCheckpoints)" -ge 1 ] 2>/dev/null; }
host_of() { local h; h=$(hist_attr "$1" RemoteHost); h=${h#\"slot1@}; echo "${h%\"}"; }
# count_job NAME STEPS MS [INTERVAL]: reference output NAME.ref, job file
# NAME.yaml (counter STEPS MS, checkpoint every INTERVAL) preferring $PREFER.
count_job() {
	"$COUNTER" "$2" "$3" >"$1.ref" || fail "$1: the reference run failed"
	{
		echo "executable: counter"
		echo "arguments: [\"$2\", \"$3\"]"
		echo "output: $1.out"
		echo "error: $1.err"
		echo "rank: TARGET.Machine == \"$PREFER\""
		[ -n "${4:-}" ] && echo "checkpoint: {interval: $4}"
	} >"$1.yaml"
}
# copies ARGS: how many runs of `./counter ARGS` exist on all hosts
# together — distinct working directories (sandboxes), so that libckpt's
# checkpoint child, a fork of the job, does not count twice.
copies() {
	local p
	for p in $(our_pids "^\./counter $1$"); do readlink "/proc/$p/cwd"; done 2>/dev/null | sort -u | grep -c .
}
# check_completed NAME ID: the job is in the history and its output is
# byte for byte that of the reference run.
check_completed() {
	if wait_for "${3:-30}" in_history "$2"; then pass "$1: the job completes"; else fail "$1: the job completes" "$(q -a -l "$2" | grep -i 'remote\|requeue\|hold\|status'; tail -5 s/schedd.log)"; fi
	if cmp -s "$1.ref" "$1.out"; then pass "$1: its output is byte for byte that of an uninterrupted run ($(wc -l <"$1.out") lines)"; else fail "$1: its output is byte for byte that of an uninterrupted run" "$(diff "$1.ref" "$1.out" | head -5)"; fi
	check_eq "$1: stderr is empty" "" "$(cat "$1.err" 2>/dev/null)"
}
# (without the agent's checkpoint-interval choices)
events_of() { sqlite3 s/queue.db "SELECT event || ' ' || host FROM events WHERE cluster = ${1%.*} AND event != 'checkpoint-interval' ORDER BY rowid" | xargs; }

# ---- the owner comes back: suspended, vacated, resumed on another host;
# and again there: resumed on the third, from the second host's image ----
PREFER=ws1 count_job evict 160 50
ID=$(submit_id evict.yaml)
if wait_for 15 running_on "$ID" ws1; then pass "evict: the job runs on ws1"; else fail "evict: the job runs on ws1" "$(q -a -l "$ID" | grep Remote; tail -3 s/schedd.log)"; fi
wait_for 10 our_pids '^\./counter 160 50$' >/dev/null
sleep 1.5 # some steps done
# owner_at HOST: the owner at HOST's keyboard (its activity file touched
# every 0.1 s) until owners_leave FILES… makes every owner leave and ages
# FILES.  A loop ends when its flag goes and is waited for: killed, one
# could be between its fork and its touch, and touch ws1 after the
# ageing — with start_idle_time 1 s under keyboard_busy_time, ws1 then
# took the next job only to vacate it again, for a minute.
owner_at() { touch "owner.$1"; ( while [ -e "owner.$1" ]; do touch "$1/activity"; sleep 0.1; done ) & TOUCHERS+=($!); PIDS+=($!); }
owners_leave() { rm -f owner.*; [ ${#TOUCHERS[@]} -eq 0 ] || wait "${TOUCHERS[@]}" 2>/dev/null; TOUCHERS=(); touch -d '-1 hour' "$@"; }
TOUCHERS=()
owner_at ws1
if wait_for 5 grep -q "suspending job" ws1/startd.log; then pass "evict: the owner's return suspends the job"; else fail "evict: the owner's return suspends the job" "$(tail -5 ws1/startd.log)"; fi
if wait_for 15 has_checkpoint "$ID"; then pass "evict: then ws1 vacates it with a checkpoint"; else fail "evict: then ws1 vacates it with a checkpoint" "$(tail -5 ws1/startd.log)"; fi
image=$(attr "$ID" LastCheckpointImage)
check_contains "evict: the image is where images go" "$IMAGE_PREFIX" "$image"
check_contains "evict: why it left" "vacated from slot1@ws1: the owner policy preempted it" "$(attr "$ID" LastRequeueReason)"
if wait_for 15 running_elsewhere "$ID" ws1; then pass "evict: it resumes on another host"; else fail "evict: it resumes on another host" "$(q -a -l "$ID" | grep -i 'remote\|requeue\|unusable')"; fi
mid=$(attr "$ID" RemoteHost); mid=${mid#\"slot1@}; mid=${mid%\"}
restarted() { grep -q "restarting the job from ${image//\"/}" "$mid/startd.log"; }
if wait_for 5 restarted; then pass "evict: $mid restarted it from ws1's image"; else fail "evict: $mid restarted it from ws1's image" "$(tail -5 "$mid/startd.log")"; fi
sleep 1.5 # some steps done there
mid_lines=$(wc -l <"$mid/startd.log")
owner_at "$mid"
two_checkpoints() { [ "$(attr "$1" NumCheckpoints)" -ge 2 ] 2>/dev/null; }
if wait_for 15 two_checkpoints "$ID"; then pass "evict: the owner of $mid comes back too: vacated again"; else fail "evict: the owner of $mid comes back too: vacated again" "$(tail -5 "$mid/startd.log")"; fi
image2=$(attr "$ID" LastCheckpointImage)
check_completed evict "$ID"
to=$(host_of "$ID")
if [ "$to" != ws1 ] && [ "$to" != "$mid" ]; then pass "evict: it resumed on the third host ($to)"; else fail "evict: it resumed on the third host" "RemoteHost: $to"; fi
check_contains "evict: $to restarted it from $mid's image" "restarting the job from ${image2//\"/}" "$(cat "$to/startd.log" 2>/dev/null)"
check_eq "evict: two checkpoints" 2 "$(hist_attr "$ID" NumCheckpoints)"
check_eq "evict: the queue recorded every event" \
	"started slot1@ws1 suspended slot1@ws1 checkpoint slot1@ws1 requeued slot1@ws1 started slot1@$mid suspended slot1@$mid checkpoint slot1@$mid requeued slot1@$mid started slot1@$to exited slot1@$to" \
	"$(events_of "$ID")"
owners_leave ws1/activity ws2/activity ws3/activity # the owners leave again
if wait_for 15 all_free; then pass "evict: ws1, ws2 and ws3 are free again once their owners leave"; else fail "evict: the hosts are free again" "$(pool status)"; fi

# ---- ws2 dies after a periodic checkpoint: resumed from it elsewhere ----
PREFER=ws2 count_job dies 140 50 2s
ID=$(submit_id dies.yaml)
if wait_for 15 running_on "$ID" ws2; then pass "dies: the job runs on ws2"; else fail "dies: the job runs on ws2" "$(q -a -l "$ID" | grep Remote)"; fi
if wait_for 10 has_checkpoint "$ID"; then pass "dies: a periodic checkpoint reaches the queue"; else fail "dies: a periodic checkpoint reaches the queue" "$(q -a -l "$ID" | grep -i ckpt\|checkpoint)"; fi
kill_host ws2
{ wait "$WS2_PID"; } 2>/dev/null
image=$(attr "$ID" LastCheckpointImage) # the last the queue heard of
check_eq "dies: nothing runs on ws2 any more" "" "$(ip netns pids "$(host_ns ws2)")"
if wait_for 20 running_elsewhere "$ID" ws2; then pass "dies: the job runs on another host"; else fail "dies: the job runs on another host" "$(q -a -l "$ID" | grep -i 'remote\|requeue')"; fi
check_completed dies "$ID"
to=$(host_of "$ID")
check_contains "dies: $to restarted it from the periodic checkpoint, not from scratch" \
	"restarting the job from ${image//\"/}" "$(cat "$to/startd.log" 2>/dev/null)"
check_contains "dies: the requeue says ws2's startd was lost" "lost the startd of slot1@ws2" "$(hist_attr "$ID" LastRequeueReason)"
if [ "$(hist_attr "$ID" NumCheckpoints)" -ge 1 ]; then pass "dies: NumCheckpoints ≥ 1 ($(hist_attr "$ID" NumCheckpoints))"; else fail "dies: NumCheckpoints ≥ 1" "$(hist_attr "$ID" NumCheckpoints)"; fi
start_ws ws2
if wait_for 15 all_free; then pass "dies: ws2 is back"; else fail "dies: ws2 is back" "$(pool status)"; fi

# ---- ws3 cut off mid-run and back: never two runs at once ----
# Checkpoints every 3 s: the cut-off run, killed by its own startd within
# claim_lease (2 s), takes at most one more, and the image the queue
# names (libckpt keeps the newest and the one before) stays.
PREFER=ws3 count_job cut 180 50 3s
: >twice; : >seen
( while :; do
	n=$(copies '180 50')
	[ "$n" -gt 0 ] && echo "$n" >>seen
	[ "$n" -gt 1 ] && echo "$n copies at $(date +%T.%N)" >>twice
	sleep 0.05
done ) &
SAMPLER=$!
PIDS+=("$SAMPLER")
ID=$(submit_id cut.yaml)
if wait_for 15 running_on "$ID" ws3; then pass "cut: the job runs on ws3"; else fail "cut: the job runs on ws3" "$(q -a -l "$ID" | grep Remote)"; fi
if wait_for 10 has_checkpoint "$ID"; then pass "cut: a periodic checkpoint reaches the queue"; else fail "cut: a periodic checkpoint reaches the queue" "$(q -a -l "$ID" | grep -i checkpoint)"; fi
stale_pid=$(our_pids '^\./counter 180 50$' | head -1)
ws3_lines=$(wc -l <ws3/startd.log)
link_down ws3
cut_at=$SECONDS
sleep 0.5 # a status reply on its way when the cable went is lost too
image=$(attr "$ID" LastCheckpointImage)
if wait_for 20 running_elsewhere "$ID" ws3; then pass "cut: the job runs on another host"; else fail "cut: the job runs on another host" "$(q -a -l "$ID" | grep -i 'remote\|requeue')"; fi
moved=$((SECONDS - cut_at))
if [ "$moved" -ge 4 ]; then pass "cut: not before ws3's claim lease ran out ($moved s)"; else fail "cut: not before ws3's claim lease ran out" "it moved after $moved s"; fi
if ! kill -0 "$stale_pid" 2>/dev/null; then pass "cut: ws3's startd killed its copy on its own"; else fail "cut: ws3's startd killed its copy on its own" "pid $stale_pid runs"; fi
check_contains "cut: ws3's log says why" "its shadow was not heard from within claim_lease" "$(tail -n +"$((ws3_lines + 1))" ws3/startd.log)"
link_up ws3
if wait_for 15 states_are ws3 Unclaimed; then pass "cut: ws3 is back and Unclaimed: its stale claim is gone"; else fail "cut: ws3 is back and Unclaimed" "$(pool status; tail -3 ws3/startd.log)"; fi
check_completed cut "$ID"
kill "$SAMPLER"
to=$(host_of "$ID")
check_contains "cut: $to restarted it from the image the queue had at the cut (not a later one of the cut-off run)" \
	"restarting the job from ${image//\"/}" "$(cat "$to/startd.log" 2>/dev/null)"
if [ "$(grep -c . seen)" -gt 20 ]; then pass "cut: the job's runs were sampled ($(grep -c . seen) times)"; else fail "cut: the job's runs were sampled" "$(grep -c . seen) samples saw it"; fi
check_eq "cut: no two runs at once" "" "$(cat twice)"
ev=$(events_of "$ID")
if [[ "$ev" =~ ^started\ slot1@ws3\ (checkpoint\ slot1@ws3\ )+requeued\ slot1@ws3\ started\ slot1@$to\ (checkpoint\ slot1@$to\ )*exited\ slot1@$to$ ]]; then
	pass "cut: the queue has one run on ws3, requeued without results, and one on $to"
else
	fail "cut: the queue has one run on ws3, requeued without results, and one on $to" "$ev"
fi

# ---- the checkpoint server restarts during a vacate ----
# A 64 MiB compute job (tests/programs/compute), checkpointed every 2 s:
# its vacate uploads 64 MiB, long enough for the server to be killed and
# started again in the middle.  The vacate then completes (the uploader
# gets through) or fails, the job carrying on from its previous image
# until max_vacate_time (3 s) kills it; either way it goes back to Idle
# with a checkpoint and completes on another host (or, if the vacate
# waited long enough, the job finished on ws1 first) with the same result
# as an uninterrupted run (compute prints its time too: only the sum is
# compared).  request_memory: the startd counts the checkpoint child (a
# fork) and the copies its writes cost against the job.
if [ "$CKPT_SERVER" = 1 ]; then
	COMPUTE=$ROOT/bin/tests/programs/compute
	cp "$COMPUTE" compute
	passes=1600 # about 12 s of CPU; the reference runs meanwhile
	"$COMPUTE" 64 $passes | awk '{print $4}' >srv.ref &
	REF_PID=$!
	cat >srv.yaml <<YAML
executable: compute
arguments: ["64", "$passes"]
request_memory: 900
output: srv.out
error: srv.err
rank: TARGET.Machine == "ws1"
checkpoint: {interval: 2s}
YAML
	ID=$(submit_id srv.yaml)
	if wait_for 15 running_on "$ID" ws1; then pass "srv: the job runs on ws1"; else fail "srv: the job runs on ws1" "$(q -a -l "$ID" | grep Remote)"; fi
	if wait_for 20 has_checkpoint "$ID"; then pass "srv: a periodic checkpoint reaches the queue"; else fail "srv: a periodic checkpoint reaches the queue" "$(tail -5 ws1/startd.log)"; fi
	ws1_lines=$(wc -l <ws1/startd.log)
	owner_at ws1
	vacating() { tail -n +"$((ws1_lines + 1))" ws1/startd.log | grep -q "vacating job"; }
	if wait_for 10 vacating; then pass "srv: ws1 vacates the job"; else fail "srv: ws1 vacates the job" "$(tail -5 ws1/startd.log)"; fi
	sleep 0.1 # the upload is under way
	kill -9 "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
	at_kill=$(tail -n +"$((ws1_lines + 1))" ws1/startd.log)
	start_ckpt_server
	check_not_contains "srv: the server was killed while the vacate was under way (the job had not left)" \
		"exited with status" "$at_kill"
	# (the owner stays on ws1 until the job is done: with start_idle_time
	# 1 s under keyboard_busy_time, ws1 would take the job back only to
	# vacate it again)
	if wait_for 40 in_history "$ID"; then pass "srv: the job completes"; else fail "srv: the job completes" "$(q -a -l "$ID" | grep -i 'remote\|requeue\|hold\|unusable')"; fi
	owners_leave ws1/activity
	wait "$REF_PID"
	to=$(host_of "$ID")
	vacate_log=$(tail -n +"$((ws1_lines + 1))" ws1/startd.log)
	echo "       (ws1: $(grep -o "exited with status [0-9]*\|killed by signal 9\|did not checkpoint within MaxVacateTime" <<<"$vacate_log" | xargs); completed on $to)"
	if [ "$to" = ws1 ]; then
		# the vacate took so long that the job finished first: its exit stands
		check_contains "srv: it finished on ws1 while the vacate waited for the server" "exited with status 0" "$vacate_log"
	else
		if grep -q "exited with status 85\|did not checkpoint within MaxVacateTime" <<<"$vacate_log"; then
			pass "srv: ws1's vacate committed the image, or the job was killed and kept its previous one"
		else
			fail "srv: ws1's vacate committed the image, or the job was killed and kept its previous one" "$vacate_log"
		fi
		check_contains "srv: $to restarted it from a checkpoint on the server" "restarting the job from server:$SRV/" \
			"$(cat "$to/startd.log" 2>/dev/null)"
	fi
	check_eq "srv: its result is that of an uninterrupted run" "$(cat srv.ref)" "$(awk '{print $4}' srv.out 2>/dev/null)"
	check_eq "srv: stderr is empty" "" "$(cat srv.err 2>/dev/null)"
fi

finish
