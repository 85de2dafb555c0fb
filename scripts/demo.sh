#!/bin/bash
# The demo pool: start a schedd in a temporary directory, submit the
# example job file, list the queue, stop.  Later issues grow this into the
# whole pool (startds, checkpoint server, an eviction and a migration).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin

dir=$(mktemp -d /tmp/kite-demo.XXXXXX)
cleanup() {
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
echo "== schedd log"
sed 's/^/   /' "$dir/schedd.log"
