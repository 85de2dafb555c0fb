# lib.sh — shared by the integration tests: a temporary directory, real
# daemons started in it, and checks that count what passed and failed.
# Source it; call `finish` at the end.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/bin
PATH=$BIN:$PATH
TMP=$(mktemp -d /tmp/kite-test.XXXXXX)
PIDS=()
PASSED=0
FAILED=0

cleanup() {
	{
		for p in "${PIDS[@]}"; do kill -9 "$p"; done
		wait
	} 2>/dev/null
	if [ "$FAILED" -eq 0 ]; then rm -rf "$TMP"; else echo "(kept $TMP for inspection)"; fi
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); echo "  ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "  FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/       | /'; return 0; }

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "expected: $2
actual:   $3"; fi
}
# check_contains NAME NEEDLE HAYSTACK
check_contains() {
	if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1" "expected to contain: $2
actual: $3"; fi
}
check_not_contains() {
	if [[ "$3" != *"$2"* ]]; then pass "$1"; else fail "$1" "expected not to contain: $2
actual: $3"; fi
}
# check_status NAME EXPECTED_RC ACTUAL_RC
check_status() { check_eq "$1 (exit status)" "$2" "$3"; }

# wait_for SECONDS COMMAND…: poll until COMMAND succeeds.
wait_for() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	while ! "$@" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

# start_schedd DIR [extra config lines…]: a schedd on loopback, port 0.
start_schedd() {
	local dir=$1; shift
	mkdir -p "$dir"
	if [ ! -f "$dir/schedd.yaml" ]; then
		{ echo "listen: 127.0.0.1:0"; for l in "$@"; do echo "$l"; done; } >"$dir/schedd.yaml"
	fi
	rm -f "$dir/schedd.addr"
	"$BIN/schedd" --config "$dir/schedd.yaml" --state-dir "$dir" 2>>"$dir/schedd.log" &
	SCHEDD_PID=$!
	PIDS+=("$SCHEDD_PID")
	if ! wait_for 10 test -s "$dir/schedd.addr"; then
		echo "schedd did not start; its log:"; cat "$dir/schedd.log"; exit 1
	fi
	SCHEDD_ADDR=$(cat "$dir/schedd.addr")
	export KITE_SCHEDD=$dir/schedd.sock
}

stop_schedd() {
	kill "$SCHEDD_PID" 2>/dev/null
	wait "$SCHEDD_PID" 2>/dev/null
}

finish() {
	echo "$(basename "$0"): $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}
