# Helpers for tests/integration/test-ckpt-*.sh (sourced, bash).
# Each test gets a temporary directory $T, the tree's binaries in $BIN and
# $PROGS, and a clean descriptor table (inherited pipes would be refused
# by libckpt, correctly, at checkpoint time).

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$TOP/bin
PROGS=$TOP/bin/tests/programs
T=$(mktemp -d /tmp/kite-ckpt-test.XXXXXX)
KEEP_T=${KEEP_T:-0}

ckpt_cleanup() {
	# kill whatever this test started and still runs
	local p
	for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	if [ "$KEEP_T" = 1 ]; then echo "(kept $T)"; else rm -rf "$T"; fi
}
trap ckpt_cleanup EXIT

for fd in /proc/$$/fd/*; do
	n=${fd##*/}
	[ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null
done

for f in "$BIN/ckpt" "$BIN/ckpt-restore" "$TOP/lib/libckpt.so"; do
	[ -e "$f" ] || { echo "SKIP: $f not built (run make)"; exit 77; }
done

fail() {
	echo "FAIL: $*"
	exit 1
}

pass() {
	echo "ok: $*"
}

# wait_lines FILE N [TIMEOUT_S]: until FILE has at least N lines.
wait_lines() {
	local file=$1 n=$2 timeout=${3:-60} i=0
	while [ "$( { wc -l <"$file"; } 2>/dev/null || echo 0)" -lt "$n" ]; do
		i=$((i + 1))
		[ $i -gt $((timeout * 100)) ] && fail "timed out waiting for $n lines in $file"
		sleep 0.01
	done
}

# wait_gone PID [TIMEOUT_S]: until PID (our child) has exited; prints its status.
wait_exit() {
	local pid=$1
	wait "$pid"
	echo $?
}

# wait_ready PID: until PID catches SIGUSR2 and SIGTSTP (libckpt initialised).
wait_ready() {
	local pid=$1 i=0 m
	while :; do
		m=$(sed -n 's/^SigCgt:\t*//p' /proc/$pid/status 2>/dev/null)
		[ -n "$m" ] && [ $(( (0x$m >> 11) & (0x$m >> 19) & 1 )) -eq 1 ] && return 0
		i=$((i + 1))
		[ $i -gt 3000 ] && fail "process $pid never initialised libckpt"
		sleep 0.01
	done
}
