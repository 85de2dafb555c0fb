#!/bin/bash
# Well-typed garbage to every daemon (tests/fuzz/wire-live.c): thousands
# of frames of every message type with awkward values — empty and huge
# strings, paths with "..", expressions that do not parse, extreme
# numbers, long arrays, random bytes, bodies damaged out of normal form —
# sent to a schedd (as a local user and as a daemon), a startd (as a
# shadow would) and a ckpt_server (as libckpt would).  Afterwards each
# daemon is still running and still does its work: the queue lists each
# job once and runs a new one, the startd advertises, the checkpoint
# server stores and reads an image back byte for byte.  (The garbage gets
# the read capability of the stored image, never its write or manage one.)
. "$(dirname "$0")/lib.sh"

FRAMES=${KITE_WIRE_LIVE_FRAMES:-1000}
job_startds
start_schedd "$TMP/s"
cd "$TMP"
mkdir -p srv && cp s/pool.key srv/pool.key
echo "listen: 127.0.0.1:0" >srv/server.yaml
"$BIN/ckpt_server" --config srv/server.yaml --state-dir srv 2>>srv/log &
SRV_PID=$!
PIDS+=($SRV_PID)
wait_for 10 test -s srv/ckpt_server.addr || { fail "ckpt_server did not start" "$(cat srv/log)"; finish; }
SRV=$(cat srv/ckpt_server.addr)
start_startd ws1 "${STARTD_CONFIG[@]}"
wait_for 10 test -s ws1/startd.addr || { fail "startd did not start" "$(cat ws1/startd.log)"; finish; }
WS1=$(cat ws1/startd.addr)
printf 'executable: /bin/echo\narguments: [before]\noutput: before.out\ncheckpoint: none\n' >before.yaml
BEFORE=$(submit_id before.yaml)
wait_for 20 in_history "$BEFORE" || fail "a job runs before the garbage" "$(q -a -l "$BEFORE" | tail -3)"

# An image stored before, to read back afterwards.
export KITE_POOL_KEY_FILE=$TMP/srv/pool.key
head -c 3000000 /dev/urandom >image.bin
"$BIN/ckpt" alloc --server "$SRV" --owner alice before.caps >/dev/null || fail "ckpt alloc before the garbage"
"$BIN/ckpt" upload --caps before.caps <image.bin >/dev/null || fail "ckpt upload before the garbage"

# live NAME ARGS…: run wire-live, pass if it reports and the daemons live.
live() {
	local name=$1; shift
	local out rc
	out=$("$BIN/tests/wire-live" --frames "$FRAMES" "$@" 2>&1); rc=$?
	if [ $rc -eq 0 ]; then pass "$name: $out"; else fail "$name" "$out"; fi
}
live "schedd, local user" --address "$KITE_SCHEDD" --to schedd --word "$BEFORE" --seed 11
live "schedd, as a daemon over TCP" --address "$SCHEDD_ADDR" --key s/pool.key --name ws-fuzz --to schedd --word slot1@ws1 --seed 12
live "startd, as a shadow" --address "$WS1" --key s/pool.key --name shadow-fuzz --to startd \
	--word slot1@ws1 --word 0123456789abcdef0123 --seed 13
live "ckpt_server, as a client" --address "$SRV" --key srv/pool.key --name fuzz --to ckpt_server \
	--word "$(awk '$1 == "read" {print $2}' before.caps)" --word alice --seed 14

for p in "$SCHEDD_PID:schedd" "$STARTD_PID:startd" "$SRV_PID:ckpt_server"; do
	if kill -0 "${p%%:*}" 2>/dev/null; then pass "${p#*:} is still running"; else fail "${p#*:} is still running" "$(tail -5 s/schedd.log ws1/startd.log srv/log)"; fi
done

# The schedd: every job listed once, and a new job runs and completes.
dups=$(q -a --all 2>/dev/null | awk '/^[0-9]+\.[0-9]+ / {print $1}' | sort | uniq -d | head -3)
check_eq "every job in the queue is listed once" "" "$dups"
check_eq "the job from before is in the history once" "1" "$(q -a --history | grep -c "^$BEFORE ")"
printf 'executable: /bin/echo\narguments: [after]\noutput: after.out\ncheckpoint: none\n' >after.yaml
AFTER=$(submit_id after.yaml)
# The garbage may have claimed the slot with a claim nobody follows: its
# lease ends it.
if wait_for 60 in_history "$AFTER"; then pass "a job submitted afterwards completes"; else fail "a job submitted afterwards completes" "$(q -a -l "$AFTER" | grep -i 'status\|why\|remote'; pool status; tail -5 ws1/startd.log)"; fi
check_eq "its output" "after" "$(cat after.out 2>/dev/null)"
if wait_for 10 bash -c "pool status | grep -q '@ws1 '"; then pass "the startd still advertises"; else fail "the startd still advertises" "$(pool status)"; fi

# The checkpoint server: the image from before reads back, and a new one
# is stored and read back.
if "$BIN/ckpt" download --caps before.caps -o before.back 2>dl.err && cmp -s image.bin before.back; then pass "the image stored before reads back byte for byte"; else fail "the image stored before reads back byte for byte" "$(cat dl.err)"; fi
head -c 2000000 /dev/urandom >image2.bin
if "$BIN/ckpt" alloc --server "$SRV" --owner bob after.caps >/dev/null && "$BIN/ckpt" upload --caps after.caps <image2.bin >/dev/null &&
	"$BIN/ckpt" download --caps after.caps -o after.back 2>dl.err && cmp -s image2.bin after.back; then
	pass "a new image is stored and read back byte for byte"
else
	fail "a new image is stored and read back byte for byte" "$(cat dl.err; tail -3 srv/log)"
fi
finish
