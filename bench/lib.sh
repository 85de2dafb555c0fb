# bench/lib.sh: helpers the benchmark scripts share (sourced).

now_ns() { date +%s%N; }

# wait_for FILE PATTERN: until a line of FILE matches PATTERN (60 s at
# most).  tail follows the file through inotify: a loop of grep and
# sleep forked two processes every 2 ms, and on this 2-core machine that
# took up to half a core from the very thing being timed (a restore
# measured with it ran 0.1-0.3 s slower).
wait_for() {
	timeout 60 tail -n +1 -F "$1" 2>/dev/null | grep -q -m1 -- "$2" && return 0
	echo "timeout waiting for $2 in $1" >&2
	return 1
}

# start_idle_startd DIR SCHEDD_ADDR: for the pool benchmarks, a startd of
# $SLOTS slots in DIR (the schedd's state directory is DIR/../s: its pool
# key is copied) whose owner has been away for an hour and stays away (no
# activity sources, an old activity file); its pid goes into `pids`.
start_idle_startd() {
	local d=$1
	cp "$d/../s/pool.key" "$d/pool.key"
	touch -d '-1 hour' "$d/activity"
	cat >"$d/startd.yaml" <<YAML
name: ws
slots: $SLOTS
cpus: $SLOTS
memory: 50G
benchmark: false
activity_sources: []
activity_file: $d/activity
start: KeyboardIdle > StartIdleTime
start_idle_time: 1s
YAML
	"$BIN/startd" --config "$d/startd.yaml" --state-dir "$d" --schedd "$2" 2>"$d/log" &
	pids+=($!)
}
