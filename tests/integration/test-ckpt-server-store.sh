#!/bin/bash
# ckpt_server: jobs of tests/programs checkpointed to a real server on
# loopback (`ckpt run --server`, `ckpt now`), killed, and restarted from
# it in a second working directory as another machine would — the output
# must equal an uninterrupted run byte for byte.  A second checkpoint
# after a little work sends only the chunks that changed.  Raw streams go
# through `ckpt upload`/`download` unchanged.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
. "$(dirname "$0")/ckpt-server-lib.sh"
[ -x "$BIN/ckpt_server" ] || { echo "SKIP: ckpt_server not built"; exit 77; }
cd "$T" || exit 1
start_server

# 1. counter: checkpoint mid-run, kill, restart elsewhere from the server
STEPS=90
"$PROGS/counter" $STEPS 10 >ref.txt || fail "uninterrupted run failed"
mkdir m1 m2
cd m1
"$BIN/ckpt" run --server "$SRV" --dir "$T/m1/ck" -- "$PROGS/counter" $STEPS 10 >"$T/out.txt" 2>err.txt &
P=$!
wait_lines "$T/out.txt" 20
img=$("$BIN/ckpt" now $P) || fail "ckpt now failed: $(cat ck/status)"
kill -9 $P
wait $P 2>/dev/null
id=$(awk '$1 == "id" {print $2}' ck/server.caps)
[ "$img" = "server:$SRV/$id" ] || fail "ckpt now printed '$img', expected server:$SRV/$id"
[ "$(stat -c %a ck/server.caps)" = 600 ] || fail "caps file is not mode 0600"
ls ck | grep -q '\.img' && fail "an image was written locally: $(ls ck)"
pass "counter checkpointed to $img (no local image, caps file 0600)"

"$BIN/ckpt" inspect --summary ck >inspect.txt || fail "inspect of the server image failed"
grep -q "every checksum verified" inspect.txt || fail "inspect did not verify: $(cat inspect.txt)"
grep -q "^image:      server:$SRV/$id" inspect.txt || fail "inspect names $(head -1 inspect.txt)"
pass "ckpt inspect reads the server image"

# restart on a second "machine": another directory, caps file copied over
cd "$T/m2"
cp "$T/m1/ck/server.caps" caps && chmod 600 caps
"$BIN/ckpt" restart --caps caps 2>restart.err &
R=$!
wait_lines "$T/out.txt" 50
img2=$("$BIN/ckpt" now --dir "$T/m1/ck" $R) || fail "ckpt now of the restarted job failed: $(cat restart.err)"
[ "$img2" = "$img" ] || fail "second checkpoint named $img2"
kill -9 $R
wait $R 2>/dev/null
pass "restarted from the server in another directory and checkpointed again"

KITE_CKPT_CAPS=$T/m2/caps "$BIN/ckpt" restart 2>restart2.err
rc=$?
[ $rc -eq 0 ] || fail "restart of the second image exited $rc: $(cat restart2.err)"
cmp -s "$T/ref.txt" "$T/out.txt" || { diff "$T/ref.txt" "$T/out.txt" | head; fail "output differs from the uninterrupted run"; }
pass "restart of a restart from the server: output identical ($(wc -l <"$T/out.txt") lines)"

# 2. state: signals, timers, files, cwd … through the server, three rounds
cd "$T"
STEPS=60
mkdir ref run
"$PROGS/state" $STEPS 5 "$T/ref" >sref.txt || fail "state: uninterrupted run failed"
"$BIN/ckpt" run --server "$SRV" --dir "$T/sck" -- "$PROGS/state" $STEPS 5 "$T/run" >sout.txt 2>serr.txt &
P=$!
at=0
for round in 1 2 3; do
	at=$((at + 5 + RANDOM % 10))
	wait_lines sout.txt $at
	"$BIN/ckpt" now $P >/dev/null || fail "state round $round: ckpt now failed: $(cat sck/status)"
	kill -9 $P
	wait $P 2>/dev/null
	"$BIN/ckpt" restart "$T/sck" 2>>serr.txt &
	P=$!
done
wait $P
rc=$?
[ $rc -eq 0 ] || fail "state: restarted program exited $rc: $(grep FAIL sout.txt | head -5; cat serr.txt)"
cmp -s sref.txt sout.txt || { diff sref.txt sout.txt | head; fail "state: stdout differs from the uninterrupted run"; }
for f in records.dat log.txt input.dat mapped.dat; do
	cmp -s "ref/sub/$f" "run/sub/$f" || fail "state: $f differs from the uninterrupted run"
done
pass "state job: three checkpoint/kill/restart rounds through the server, output and files identical"

# 3. dedup: a second checkpoint of an idle job sends a few percent
"$BIN/ckpt" run --server "$SRV" --dir "$T/bm/ck" -- "$PROGS/bigmem" 32 >bm.txt 2>bm.err &
P=$!
wait_lines bm.txt 1
"$BIN/ckpt" now $P >/dev/null || fail "bigmem: first checkpoint failed"
"$BIN/ckpt" now $P >/dev/null || fail "bigmem: second checkpoint failed"
kill -9 $P
wait $P 2>/dev/null
read -r size new < <(grep "committed image" "$T/srv/log" | tail -1 |
	sed -n 's/.*: \([0-9]*\) bytes in [0-9]* chunks; the upload sent \([0-9]*\) bytes/\1 \2/p')
[ -n "$size" ] && [ "$size" -gt 33000000 ] || fail "bigmem: image of '$size' bytes"
[ "$new" -lt $((size / 50)) ] || fail "bigmem: the second image sent $new bytes of $size"
pass "bigmem 32 MiB: the second checkpoint sent $new bytes of $size"

# 4. raw streams through upload/download, byte for byte
head -c 3000000 /dev/urandom >raw.bin
"$BIN/ckpt" alloc --server "$SRV" --owner tester raw.caps >/dev/null || fail "alloc failed"
out=$("$BIN/ckpt" upload --caps raw.caps <raw.bin) || fail "upload failed: $out"
"$BIN/ckpt" download --caps raw.caps -o raw.back || fail "download failed"
cmp -s raw.bin raw.back || fail "downloaded bytes differ"
out2=$("$BIN/ckpt" upload --caps raw.caps <raw.bin) || fail "second upload failed"
case "$out2" in *"and 0 chunks"*) ;; *) fail "the same stream again sent chunks: $out2" ;; esac
pass "raw stream stored and read back byte for byte; sent again, no chunk travels"
stop_server
exit 0
