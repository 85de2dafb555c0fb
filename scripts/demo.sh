#!/bin/bash
# The demo pool: start a schedd in a temporary directory, submit the
# example job file, list the queue, start a startd with two slots whose
# owner is at the keyboard, let the owner leave: the jobs are matched, run
# without privileges and complete; the owner comes back.  Then an
# eviction and a migration: a counting job runs on ws1, its owner comes
# back, the job is suspended, vacated with a checkpoint and resumes on
# ws2 from it; its output equals an uninterrupted run's.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin

dir=$(mktemp -d /tmp/kite-demo.XXXXXX)
# Jobs run as an unprivileged user when the startd is root: let it reach
# the sandboxes below.
chmod 755 "$dir"
cleanup() {
	set +e
	for p in ${startd_pid:-} ${ws2_pid:-} ${toucher:-} ${toucher2:-} ${srv_pid:-}; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	[ -n "${schedd_pid:-}" ] && kill "$schedd_pid" 2>/dev/null && wait "$schedd_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/schedd.yaml" <<YAML
listen: 127.0.0.1:0
YAML
echo "== starting a schedd in $dir"
"$BIN/schedd" --config "$dir/schedd.yaml" --state-dir "$dir" 2>"$dir/schedd.log" &
schedd_pid=$!
for _ in $(seq 100); do [ -S "$dir/schedd.sock" ] && [ -s "$dir/schedd.addr" ] && break; sleep 0.05; done
[ -S "$dir/schedd.sock" ] || { cat "$dir/schedd.log"; echo "demo: the schedd did not start" >&2; exit 1; }
export KITE_SCHEDD=$dir/schedd.sock
echo "   schedd listening on $dir/schedd.sock and $(cat "$dir/schedd.addr")"

echo
echo "== submit examples/job.yaml (from the demo directory, where its output files go)"
cp examples/job.yaml "$dir/job.yaml"
(cd "$dir" && "$BIN/submit" job.yaml)
echo
echo "== q"
"$BIN/q"
echo
echo "== q -l 1.0 (the first job, every attribute)"
"$BIN/q" -l 1.0
echo
echo "== a startd with two slots; its owner is at the keyboard (an activity file)"
mkdir -p "$dir/ws1"
cp "$dir/pool.key" "$dir/ws1/pool.key"
touch "$dir/ws1/activity"
cat >"$dir/ws1/startd.yaml" <<YAML
name: ws1
slots: 2
advertise_interval: 1s
poll_interval: 0.2s
start_idle_time: 2s
keyboard_busy_time: 1s
continue_idle_time: 2s
background_load: 1000
activity_file: $dir/ws1/activity
YAML
"$BIN/startd" --config "$dir/ws1/startd.yaml" --state-dir "$dir/ws1" --schedd "$(cat "$dir/schedd.addr")" \
	2>"$dir/ws1/startd.log" &
startd_pid=$!
for _ in $(seq 100); do "$BIN/pool" status 2>/dev/null | grep -q '@ws1 ' && break; sleep 0.05; done
"$BIN/pool" status
echo
echo "== the owner has left: after start_idle_time (2 s) the slots take jobs"
for _ in $(seq 100); do "$BIN/q" | grep -q ' R ' && break; sleep 0.1; done
"$BIN/pool" status
echo
"$BIN/q"
echo
echo "== waiting for the three jobs to complete (two slots, 3 s each)"
for _ in $(seq 300); do "$BIN/q" | grep -q '^Total: 0 jobs' && break; sleep 0.1; done
"$BIN/q" --history
echo
for p in 0 1 2; do echo "-- $dir/demo.1.$p.out:"; sed 's/^/   /' "$dir/demo.1.$p.out" 2>/dev/null || echo "   (missing)"; done
echo
echo "== the owner is back (touch the activity file): Owner again at once"
touch "$dir/ws1/activity"
sleep 1
"$BIN/pool" status

echo
echo "== act 2: eviction and migration with a checkpoint, through a checkpoint server"
kill "$startd_pid"; wait "$startd_pid" 2>/dev/null || true
mkdir -m 1777 "$dir/jobs"
mkdir -p "$dir/srv"
cp "$dir/pool.key" "$dir/srv/pool.key"
echo "listen: 127.0.0.1:0" >"$dir/srv/ckpt_server.yaml"
"$BIN/ckpt_server" --config "$dir/srv/ckpt_server.yaml" --state-dir "$dir/srv" 2>"$dir/srv/log" &
srv_pid=$!
for _ in $(seq 100); do [ -s "$dir/srv/ckpt_server.addr" ] && break; sleep 0.05; done
srv=$(cat "$dir/srv/ckpt_server.addr")
echo "   ckpt_server listening on $srv"
start_ws() { # NAME ACTIVITY_AGE
	mkdir -p "$dir/$1"
	cp "$dir/pool.key" "$dir/$1/pool.key"
	touch -d "$2" "$dir/$1/activity"
	cat >"$dir/$1/startd.yaml" <<YAML
name: $1
advertise_interval: 1s
poll_interval: 0.1s
start_idle_time: 1s
max_suspend_time: 1s
continue_idle_time: 1h
background_load: 1000
activity_sources: [load]
activity_file: $dir/$1/activity
checkpoint_dir: $dir/jobs
ckpt_server: $srv
YAML
	"$BIN/startd" --config "$dir/$1/startd.yaml" --state-dir "$dir/$1" --schedd "$(cat "$dir/schedd.addr")" \
		2>>"$dir/$1/startd.log" &
}
start_ws ws1 '-1 hour'
startd_pid=$!
start_ws ws2 'now'
ws2_pid=$!
( while :; do touch "$dir/ws2/activity"; sleep 0.2; done ) &
toucher2=$!
cp bin/tests/programs/counter "$dir/counter"
cat >"$dir/count.yaml" <<YAML
# a program that counts, keeping state in heap, stack, mmap, TLS and FPU
# registers, and checks it all at the end; libckpt is preloaded (the default)
executable: counter
arguments: ["60", "100"]
output: count.out
error: count.err
log: count.log
YAML
echo "   ws1's owner is away; ws2's owner is at the keyboard (its activity file is touched)"
"$BIN/tests/programs/counter" 60 100 >"$dir/reference.out" &
ref_pid=$!
id=$(cd "$dir" && "$BIN/submit" count.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1.0/p')
for _ in $(seq 200); do "$BIN/q" "$id" | grep -q ' R ' && break; sleep 0.1; done
"$BIN/q" "$id"
sleep 2
echo
echo "== ws1's owner comes back and stays: the job is suspended, then vacated with a checkpoint"
t0=$(date +%s%N)
( while :; do touch "$dir/ws1/activity"; sleep 0.2; done ) &
toucher=$!
for _ in $(seq 200); do "$BIN/q" "$id" | grep -q " I " && break; sleep 0.1; done
t1=$(date +%s%N)
size=$("$BIN/q" -l "$id" | sed -n 's/^CheckpointSize = //p')
echo "   vacated with a checkpoint of $((size / 1024)) KiB on $srv, $(((t1 - t0) / 1000000)) ms after the owner came back"
echo "   (suspended at once, vacated after max_suspend_time: 1s)"
grep -h "suspending\|vacating\|exited with status 85" "$dir/ws1/startd.log" | sed 's/^/   /'
"$BIN/q" "$id"
"$BIN/q" -l "$id" | grep -E "^(NumCheckpoints|CheckpointSize|LastCheckpointImage|LastRequeueReason) " | sed 's/^/   /'
echo
echo "== ws2's owner leaves: the job resumes there from its checkpoint"
kill "$toucher2"; wait "$toucher2" 2>/dev/null || true
touch -d '-1 hour' "$dir/ws2/activity"
for _ in $(seq 300); do "$BIN/q" --history "$id" 2>/dev/null | grep -q " C " && break; sleep 0.1; done
grep -h "restarting the job" "$dir/ws2/startd.log" | sed 's/^/   /'
"$BIN/q" --history "$id"
wait "$ref_pid" || true
if cmp -s "$dir/reference.out" "$dir/count.out"; then
	echo "   output: $(wc -l <"$dir/count.out") lines, byte for byte those of an uninterrupted run; last: $(tail -1 "$dir/count.out")"
else
	echo "   output DIFFERS from the uninterrupted run:"; diff "$dir/reference.out" "$dir/count.out" | head
	exit 1
fi
echo
echo "== the job's event log (count.log, HTCondor's user-log format: the job file's \`log\`)"
for _ in $(seq 20); do grep -q '^005 ' "$dir/count.log" 2>/dev/null && break; sleep 0.1; done
sed 's/^/   /' "$dir/count.log"
"$BIN/pool" status
echo
echo "== the checkpoint server's allocations (the job's space is reclaimed when its lease ends)"
KITE_POOL_KEY_FILE=$dir/pool.key "$BIN/pool" ckpt --ckpt-server "$srv" ls | sed 's/^/   /'
