#!/bin/bash
# The demo pool: start a schedd in a temporary directory, submit the
# example job file, list the queue, start a startd with two slots whose
# owner leaves and comes back, show `pool status`, stop.  Later issues
# grow this into the whole pool (jobs running on the startds, checkpoint
# server, an eviction and a migration).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin

dir=$(mktemp -d /tmp/kite-demo.XXXXXX)
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
echo "== submit examples/job.yaml"
(cd examples && "$BIN/submit" job.yaml)
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
background_load: 1000
activity_file: $dir/ws1/activity
YAML
"$BIN/startd" --config "$dir/ws1/startd.yaml" --state-dir "$dir/ws1" --schedd "$(cat "$dir/schedd.addr")" \
	2>"$dir/ws1/startd.log" &
startd_pid=$!
for _ in $(seq 100); do "$BIN/pool" status 2>/dev/null | grep -q '@ws1 ' && break; sleep 0.05; done
"$BIN/pool" status
echo
echo "== the owner has left: 3 s later the slots are Unclaimed (start_idle_time: 2s)"
sleep 3.5
"$BIN/pool" status
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
