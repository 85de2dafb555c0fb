# Helpers for tests/integration/test-ckpt-server-*.sh (sourced after
# tests/programs/ckpt-test-lib.sh): a real ckpt_server on loopback in
# $T/srv, clients authenticated with its pool key.

# start_server [config lines…]: start (or restart) the server on $T/srv;
# sets SRV_PID and SRV (HOST:PORT).  The port is kept across restarts.
start_server() {
	mkdir -p "$T/srv"
	if [ ! -f "$T/srv/server.yaml" ] || [ $# -gt 0 ]; then
		{ echo "listen: 127.0.0.1:${SRV_PORT:-0}"; for l in "$@"; do echo "$l"; done; } >"$T/srv/server.yaml"
	fi
	# a restart keeps the port: capabilities files name HOST:PORT
	[ -n "${SRV_PORT:-}" ] && sed -i "s/^listen: .*/listen: 127.0.0.1:$SRV_PORT/" "$T/srv/server.yaml"
	rm -f "$T/srv/ckpt_server.addr"
	"$BIN/ckpt_server" --config "$T/srv/server.yaml" --state-dir "$T/srv" 2>>"$T/srv/log" &
	SRV_PID=$!
	local i=0
	until [ -s "$T/srv/ckpt_server.addr" ]; do
		i=$((i + 1))
		[ $i -gt 1000 ] && fail "ckpt_server did not start: $(tail -5 "$T/srv/log")"
		kill -0 $SRV_PID 2>/dev/null || fail "ckpt_server exited: $(tail -5 "$T/srv/log")"
		sleep 0.01
	done
	SRV=$(cat "$T/srv/ckpt_server.addr")
	SRV_PORT=${SRV##*:}
	export KITE_POOL_KEY_FILE=$T/srv/pool.key
}

# check_eq WHAT EXPECTED GOT (as tests/integration/lib.sh's)
check_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }

stop_server() {
	kill "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
}

crash_server() {
	kill -9 "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
}

# status_field NAME: a number from `ckpt_server --status`.
status_field() {
	"$BIN/ckpt_server" --config "$T/srv/server.yaml" --state-dir "$T/srv" --status | awk -v k="$1:" '$1 == k {print $2}'
}

# restart_running DIR: `ckpt restart DIR` in the background (stdout to
# out.txt, stderr to err.txt, emptied first), back once the program's
# restart callback ran (bigmem prints restarted_ns); sets R to its pid.
restart_running() {
	: >err.txt
	"$BIN/ckpt" restart "$1" >>out.txt 2>>err.txt &
	R=$!
	local i=0
	until grep -q restarted_ns err.txt; do
		i=$((i + 1))
		[ $i -gt 3000 ] && fail "no restart from $1: $(cat err.txt)"
		kill -0 $R 2>/dev/null || fail "restart from $1 failed: $(cat err.txt)"
		sleep 0.01
	done
}

# check_memory: the restarted bigmem ($R) checks every byte of its memory.
check_memory() {
	kill -HUP $R
	local i=0
	until grep -q "^verify" out.txt; do
		i=$((i + 1))
		[ $i -gt 3000 ] && fail "the restarted program did not check its memory"
		sleep 0.01
	done
	grep -q "^verify ok" out.txt || fail "restarted memory differs: $(grep verify out.txt)"
}

# checkpointed_bigmem MIB: bigmem of MIB MiB run with its images on the
# server (directory $T/ck, stdout out.txt, stderr err.txt), checkpointed
# once and killed; sets id, size and chunks of its image.
checkpointed_bigmem() {
	"$BIN/ckpt" run --server "$SRV" --dir "$T/ck" -- "$PROGS/bigmem" "$1" 1 >out.txt 2>err.txt &
	local P=$!
	wait_lines out.txt 1
	"$BIN/ckpt" now $P >/dev/null || fail "ckpt now failed: $(cat "$T/ck/status")"
	kill -9 $P
	wait $P 2>/dev/null
	id=$(awk '$1 == "id" {print $2}' "$T/ck/server.caps")
	local st
	st=$("$BIN/ckpt" lease --caps "$T/ck/server.caps" stat) || fail "lease stat failed: $st"
	size=$(echo "$st" | awk '$1 == "size" {print $2}')
	chunks=$(echo "$st" | awk '$1 == "chunks" {print $2}')
}
