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

# Daemons get SIGTERM first, so that a startd kills its jobs and removes
# their cgroups; whatever is left a moment later gets SIGKILL.
cleanup() {
	{
		for p in "${PIDS[@]}"; do kill "$p"; done
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			alive=0
			for p in "${PIDS[@]}"; do kill -0 "$p" && alive=1; done
			[ $alive -eq 0 ] && break
			sleep 0.1
		done
		for p in "${PIDS[@]}"; do kill -9 "$p"; done
		wait
		# The job cgroups of a startd that was killed outright.
		for f in "$TMP"/*/startd.cgroup; do
			[ -f "$f" ] || continue
			for c in "$(cat "$f")"/*/; do echo 1 >"$c/cgroup.kill"; rmdir "$c"; done
			rmdir "$(cat "$f")"
		done
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

# our_pids PATTERN: the pids of this test's processes whose command line
# matches PATTERN (an extended regex, as `pgrep -f PATTERN`); fails if
# there is none.  This test's: their working directory is under $TMP, as
# every job's sandbox is.  Never a machine-wide pgrep: suites run at
# once on one machine have jobs with the same command lines.
our_pids() {
	local p found=1
	for p in $(pgrep -f "$1"); do
		if [[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" == "$TMP"/* ]]; then
			echo "$p"
			found=0
		fi
	done
	return $found
}
# none_of_ours PATTERN: no process of this test matches PATTERN.
none_of_ours() { ! our_pids "$1" >/dev/null; }
# our_procs PATTERN: "PID COMMAND LINE" of each, for a failure's details.
our_procs() { our_pids "$1" | xargs -r ps -o pid=,args= -p; }

# Daemons start as `${LAUNCH[@]} PROGRAM …` and listen on $LISTEN_HOST:
# empty and 127.0.0.1 here; hosts.sh sets both to put a daemon on one
# of its hosts (LAUNCH must exec the program, so that $! is the daemon).
LAUNCH=()
LISTEN_HOST=127.0.0.1

# start_schedd DIR [extra config lines…]: a schedd on loopback, port 0.
start_schedd() {
	local dir=$1; shift
	mkdir -p "$dir"
	if [ ! -f "$dir/schedd.yaml" ]; then
		{ echo "listen: $LISTEN_HOST:0"; for l in "$@"; do echo "$l"; done; } >"$dir/schedd.yaml"
	fi
	rm -f "$dir/schedd.addr"
	"${LAUNCH[@]}" "$BIN/schedd" --config "$dir/schedd.yaml" --state-dir "$dir" 2>>"$dir/schedd.log" &
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

# start_startd NAME [extra config lines…]: a startd named NAME in
# $TMP/NAME with a copy of the schedd's pool key, advertising to
# $SCHEDD_ADDR, its owner activity given by the file $TMP/NAME/activity,
# touched now (or dated $ACTIVITY_AGE, e.g. '-1 hour', for a machine
# idle from the start).  $ADVERTISE, $POLL and $START_IDLE set
# advertise_interval (1s), poll_interval (0.2s) and start_idle_time (2s).
start_startd() {
	local name=$1; shift
	local dir=$TMP/$name
	mkdir -p "$dir"
	[ -f "$dir/pool.key" ] || cp "$TMP/s/pool.key" "$dir/pool.key"
	touch ${ACTIVITY_AGE:+-d "$ACTIVITY_AGE"} "$dir/activity"
	{
		echo "name: $name"
		echo "advertise_interval: ${ADVERTISE:-1s}"
		echo "poll_interval: ${POLL:-0.2s}"
		echo "start_idle_time: ${START_IDLE:-2s}"
		# The build machine's own load must not decide the test.
		echo "background_load: 1000"
		echo "activity_file: $dir/activity"
		[ "$LISTEN_HOST" = 127.0.0.1 ] || echo "listen: $LISTEN_HOST:0"
		for l in "$@"; do echo "$l"; done
	} >"$dir/startd.yaml"
	"${LAUNCH[@]}" "$BIN/startd" --config "$dir/startd.yaml" --state-dir "$dir" --schedd "$SCHEDD_ADDR" 2>>"$dir/startd.log" &
	STARTD_PID=$!
	PIDS+=("$STARTD_PID")
}

# The State column of `pool status` for every slot of machine $1.
states() { pool status 2>/dev/null | awk -v m="@$1" 'index($1, m) && $1 ~ m"$" {print $4}' | xargs; }
states_are() { [ "$(states "$1")" == "$2" ]; }

# job_startds [config…]: settings for tests that run jobs.  $TMP is made
# reachable by `nobody` (a root startd runs jobs as nobody, below it, as
# under /var/lib/kite); startds see machines idle from the start, with
# short thresholds; STARTD_CONFIG is fixed memory, no benchmark, no tty,
# input or logind sources, and the given lines.
job_startds() {
	chmod 755 "$TMP"
	ACTIVITY_AGE='-1 hour'
	POLL=0.1s
	START_IDLE=1s
	STARTD_CONFIG=("activity_sources: [load]" "benchmark: false" "memory: 1G" "$@")
}

# submit_id FILE: submit FILE, print the first job's id.
submit_id() { submit "$1" | sed -n 's/.*cluster \([0-9]*\)\./\1.0/p'; }

# status_of ID: the ST column of `q` for job ID, or "gone"; in_history
# ID: the job completed (C in `q --history`).
status_of() { local l; l=$(q -a "$1" 2>/dev/null | awk -v id="$1" '$1 == id {print $6}'); echo "${l:-gone}"; }
status_is() { [ "$(status_of "$1")" == "$2" ]; }
in_history() { q -a --history "$1" 2>/dev/null | grep -q "^$1 .* C "; }

finish() {
	echo "$(basename "$0"): $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}
