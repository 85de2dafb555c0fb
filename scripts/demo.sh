#!/bin/bash
# The demo pool: start a schedd in a temporary directory, submit the
# example job file, list the queue, start a startd with two slots whose
# owner is at the keyboard, let the owner leave: the jobs are matched, run
# without privileges and complete; the owner comes back; stop.  Later
# issues grow this into the whole pool (checkpoint server, an eviction and
# a migration).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin

dir=$(mktemp -d /tmp/kite-demo.XXXXXX)
# Jobs run as an unprivileged user when the startd is root: let it reach
# the sandboxes below.
chmod 755 "$dir"
cleanup() {
	[ -n "${startd_pid:-}" ] && kill "$startd_pid" 2>/dev/null && wait "$startd_pid" 2>/dev/null
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
echo "== startd log"
sed 's/^/   /' "$dir/ws1/startd.log"
echo
echo "== schedd log"
sed 's/^/   /' "$dir/schedd.log"
