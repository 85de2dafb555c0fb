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
