#!/bin/bash
# bench/evict.sh: eviction and migration through the whole pool (issue
# 6), on tests/integration/hosts.sh's namespace network: a schedd on
# host "submit", startds on "ws1", "ws2" (and "ws3"), all real daemons.
# Medians of RUNS runs; prints each figure beside its target.
#   RUNS=5 bench/evict.sh       the three latency figures (about a minute)
#   LONG=1 bench/evict.sh       also the 512 MiB compute job (several minutes)
#   CKPT_SERVER=1 …             images through a ckpt_server on host "ckpt"
#                               (startd key ckpt_server) instead of a
#                               checkpoint_dir shared by the hosts
# Root only (network namespaces); skipped otherwise.
#
# Times are taken by the bench itself: watchers block on the daemons'
# logs (tail -F, inotify) and stamp each line they wait for as it
# appears, so a figure includes a few ms of watching, never a poll of
# the bench's own.
set -u
[ "$(id -u)" -eq 0 ] || { echo "bench/evict.sh: skipped (network namespaces need root)"; exit 0; }
TOP=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
CKPT_SERVER=${CKPT_SERVER:-0}
# Intervals the figures depend on (said beside them below).
POLL=0.1s            # startd poll_interval: activity sampled, policy evaluated
CLAIM_POLL=0.1s      # schedd claim_poll_interval: how often a shadow asks its startd
NEGOTIATOR=20s       # negotiator_interval (the default: matching also runs at once on events)
for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null; done
. "$TOP/tests/integration/lib.sh"
. "$TOP/tests/integration/hosts.sh"
PROGS=$BIN/tests/programs
# libckpt images in tmpfs, like bench/ckpt.sh (a shared directory here;
# with CKPT_SERVER=1 the server's state directory)
IMAGES=$(mktemp -d /dev/shm/kite-evict-bench.XXXXXX)
trap 'cleanup; hosts_cleanup; rm -rf "$IMAGES"' EXIT
chmod 1777 "$IMAGES"

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else print a[int((NR+1)/2)]}'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f\n", (b - a) / 1e6}'; }

# watch NAME FILE PATTERN: from now on, wait in the background for a new
# line of FILE matching PATTERN and write the time it appeared to
# $W/NAME; stamp NAME waits for that and prints it.
W=$TMP/watch
mkdir -p "$W"
watch() {
	rm -f "$W/$1"
	# (tail ends with the bench, --pid; the subshell is killed by cleanup)
	(
		exec >/dev/null 2>&1
		tail -n 0 -F --pid=$$ "$2" | { grep -m1 -q -- "$3" && now_ns >"$W/$1.tmp" && mv "$W/$1.tmp" "$W/$1"; }
	) &
	PIDS+=($!)
}
stamp() {
	wait_for "${2:-30}" test -s "$W/$1" || { echo "bench/evict.sh: timed out waiting for $1" >&2; return 1; }
	cat "$W/$1"
}

make_hosts submit ws1 ws2 ws3 ckpt
start_schedd_on submit "$TMP/s" "claim_poll_interval: $CLAIM_POLL" "negotiator_interval: $NEGOTIATOR"
cd "$TMP"
job_startds
# room for the 512 MiB job and the copies its checkpoints cost (below)
STARTD_CONFIG=("${STARTD_CONFIG[@]/#memory: 1G/memory: 3G}")
ckpt_lines=()
if [ "$CKPT_SERVER" = 1 ]; then
	mkdir -p srv && cp s/pool.key "$IMAGES/pool.key"
	echo "listen: $(host_ip ckpt):0" >srv/ckpt_server.yaml
	nsenter --net="/run/netns/$(host_ns ckpt)" -- "$BIN/ckpt_server" --config srv/ckpt_server.yaml --state-dir "$IMAGES" 2>>srv/log &
	PIDS+=($!)
	wait_for 10 test -s "$IMAGES/ckpt_server.addr" || { echo "ckpt_server did not start"; exit 1; }
	ckpt_lines=("ckpt_server: $(cat "$IMAGES/ckpt_server.addr")")
fi
mkdir -m 1777 jobs # with a server: caps and tokens, the same path on every host
ws_config() { # NAME: the startd's own lines
	[ "$CKPT_SERVER" = 1 ] && echo "checkpoint_dir: $TMP/$1/checkpoints" || echo "checkpoint_dir: $IMAGES"
}
start_ws() { # NAME config…
	local n=$1 lines; shift
	mapfile -t lines < <(ws_config "$n")
	start_startd_on "$n" "$n" "${STARTD_CONFIG[@]}" "${lines[@]}" "${ckpt_lines[@]}" "$@"
}
declare -A R

# ---- 1. owner activity → job suspended ----
# ws3 suspends on the owner's return and continues as soon as the owner
# has gone (the default CONTINUE also waits 10 s of ActivityTimer).
start_ws ws3 "max_suspend_time: 1h" "continue: KeyboardIdle > ContinueIdleTime" "continue_idle_time: 1s"
WS3=$STARTD_PID
printf 'executable: /bin/sleep\narguments: ["600"]\ncheckpoint: none\nrequirements: TARGET.Machine == "ws3"\n' >sleep.yaml
ID=$(submit_id sleep.yaml)
wait_for 20 status_is "$ID" R || { echo "bench/evict.sh: the job does not run on ws3: $(q -a -l "$ID" | grep -i analysis)"; exit 1; }
sleep 0.5
: >suspend.txt
for i in $(seq "$RUNS"); do
	watch susp ws3/startd.log "suspending job"
	sleep 0.3
	t0=$(now_ns); touch ws3/activity
	t1=$(stamp susp) || break
	ms "$t0" "$t1" >>suspend.txt
	watch cont ws3/startd.log "continuing job"
	sleep 0.3
	touch -d '-1 hour' ws3/activity
	stamp cont >/dev/null || break
done
R[suspend]=$(median <suspend.txt)
pool rm "$ID" >/dev/null
kill "$WS3"; wait "$WS3" 2>/dev/null

# ---- 2 and 3. a 256 MiB job vacated at once, resumed on the other host ----
# PREEMPT is the owner's return itself; every image is a full one
# (KITE_CKPT_FULL_EVERY=1), so no vacate is cheaper than the first.  The
# job moves back and forth between ws1 and ws2: the owner comes back to
# the host it runs on, and leaves again once the job has gone.
start_ws ws1 "preempt: KeyboardBusy"
start_ws ws2 "preempt: KeyboardBusy"
cp "$PROGS/bigmem" bigmem
cat >big.yaml <<'YAML'
executable: bigmem
arguments: ["256"]
request_memory: 900
environment:
  KITE_CKPT_FULL_EVERY: "1"
rank: TARGET.Machine == "ws1"
YAML
both_free() { states_are ws1 Unclaimed && states_are ws2 Unclaimed; }
wait_for 20 both_free || { echo "bench/evict.sh: ws1 and ws2 do not come up: $(pool status)"; exit 1; }
ID=$(submit_id big.yaml)
on=ws1 other=ws2
wait_for 20 status_is "$ID" R
newest_sandbox() { ls -dt "$TMP/$1"/execute/dir_* 2>/dev/null | head -1; }
wait_for 30 grep -q '^ready' "$(newest_sandbox $on)/.kite_stdout" ||
	{ echo "bench/evict.sh: the 256 MiB job does not start: $(q -a -l "$ID" | grep -i 'hold\|requeue'; tail -5 $on/startd.log)"; exit 1; }
sleep 1
: >vacate.txt
for i in $(seq "$RUNS"); do
	watch exit $on/startd.log "exited with status 85"
	watch free $on/startd.log "Preempting/Vacating -> Owner/Idle"
	watch idle s/schedd.log "job $ID is Idle again"
	watch matched s/schedd.log "job $ID matched to slot1@$other"
	watch restart $other/startd.log "restarting the job from"
	sleep 0.3
	t0=$(now_ns); touch $on/activity
	t_exit=$(stamp exit) && t_free=$(stamp free) && t_idle=$(stamp idle) && t_match=$(stamp matched) &&
		t_restart=$(stamp restart) || break
	sandbox=$(newest_sandbox $other)
	wait_for 30 grep -q '^restarted_ns' "$sandbox/.kite_stderr" || {
		FAILED=1 # (lib.sh keeps $TMP)
		echo "bench/evict.sh: the job did not run again on $other: $(q -a -l "$ID" | grep -i 'hold\|requeue\|unusable'; tail -4 "$other/startd.log"; tail -3 "$sandbox/.kite_stderr")"
		break
	}
	t_run=$(sed -n 's/^restarted_ns //p' "$sandbox/.kite_stderr" | tail -1)
	size=$(q -a -l "$ID" | sed -n 's/^CheckpointSize = //p')
	echo "$(ms "$t0" "$t_exit") $(ms "$t0" "$t_free") $(ms "$t_exit" "$t_run") $(ms "$t_exit" "$t_idle") \
$(ms "$t_idle" "$t_match") $(ms "$t_match" "$t_restart") $(ms "$t_restart" "$t_run") $size" >>vacate.txt
	touch -d '-1 hour' $on/activity # the owner leaves: the host is free for the next move
	wait_for 10 states_are $on Unclaimed
	t=$on on=$other other=$t
	sleep 1
done
col() { awk -v c="$1" '{print $c}' vacate.txt | median; }
R[committed]=$(col 1) R[free]=$(col 2) R[moved]=$(col 3)
R[to_idle]=$(col 4) R[to_match]=$(col 5) R[to_restart]=$(col 6) R[restore]=$(col 7)
R[size]=$(awk '{printf "%.0f\n", $8 / 1048576}' vacate.txt | median)
R[n]=$(grep -c . vacate.txt)
pool rm "$ID" >/dev/null 2>&1

# ---- 4. a 512 MiB compute job through the pool, checkpoints every 10 s ----
if [ "${LONG:-0}" = 1 ]; then
	PASSES=${PASSES:-800}
	cp "$PROGS/compute" compute
	s=$(now_ns)
	"$PROGS/compute" 512 "$PASSES" >direct.out
	direct_s=$(awk -v a="$s" -v b="$(now_ns)" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
	# While a checkpoint child writes the image, every page the job
	# changes is copied (fork's copy on write), all in the job's cgroup:
	# a job that rewrites all its memory needs twice its size.
	printf 'executable: compute\narguments: ["512", "%s"]\nrequest_memory: 1100\noutput: pool.out\ncheckpoint: {interval: 10s}\n' \
		"$PASSES" >compute.yaml
	touch -d '-1 hour' ws1/activity ws2/activity
	wait_for 20 both_free
	s=$(now_ns)
	ID=$(submit_id compute.yaml)
	done_or_held() { in_history "$ID" || status_is "$ID" H; }
	wait_for 3600 done_or_held
	status_is "$ID" H && echo "bench/evict.sh: the compute job was held: $(q -a -l "$ID" | sed -n 's/^HoldReason = //p')" >&2
	pool_s=$(awk -v a="$s" -v b="$(now_ns)" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
	job_direct=$(awk '{print $2}' direct.out) job_pool=$(awk '{print $2}' pool.out 2>/dev/null)
	R[slow]=$(awk -v a="$direct_s" -v b="$pool_s" 'BEGIN {printf "%.1f", 100 * (b - a) / a}')
	R[slow_detail]="submit to completed $pool_s s, direct $direct_s s; the job's own timing ${job_pool:-?} s vs ${job_direct} s; $(q -a --history -l "$ID" | sed -n 's/^NumCheckpoints = //p') checkpoints"
else
	R[slow]="not run (LONG=1)" R[slow_detail]=""
fi

where=$([ "$CKPT_SERVER" = 1 ] && echo "through a ckpt_server on host ckpt, state in tmpfs" || echo "in a checkpoint_dir in tmpfs shared by the hosts")
cat <<EOF
# bench/evict.sh ($(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), median of $RUNS; images $where)
poll_interval $POLL, claim_poll_interval $CLAIM_POLL, negotiator_interval $NEGOTIATOR
| figure | measured | target |
|---|---|---|
| owner activity → job suspended (touch of the activity file → "suspending job") | ${R[suspend]} ms | ≤ 500 ms |
| owner activity → vacate complete, 256 MiB (${R[size]} MiB image committed / slot free) | ${R[committed]} ms / ${R[free]} ms | ≤ 1500 ms |
| vacate complete on one host → running again on another, 256 MiB | ${R[moved]} ms | ≤ 2000 ms |
|   of which: job exit → Idle in the queue (shadow) / → matched / → \`ckpt restart\` started / → restored and running | ${R[to_idle]} / ${R[to_match]} / ${R[to_restart]} / ${R[restore]} ms | |
| 512 MiB compute job, checkpoints every 10 s, through the pool: slowdown | ${R[slow]}${R[slow_detail]:+ % (${R[slow_detail]})} | ≤ 1 % |
($(echo "${R[n]}") moves measured)
EOF
