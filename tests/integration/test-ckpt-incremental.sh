#!/bin/bash
# libckpt incremental images: after 1% of a 64 MiB job's pages change,
# the next image stores about 1% (PARENT records refer to the rest); a
# restart from the third image of a chain rebuilds all of memory (the job
# verifies its checksum); KITE_CKPT_FULL_EVERY bounds chains; a chain
# whose parent was replaced (a restart from an older image rewrote it) is
# refused with the reason, and a missing parent too.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

size() { stat -c %s "$1"; }
lines() { wc -l <"$1"; }

"$BIN/ckpt" run --dir "$T/ck" -- "$PROGS/bigmem" 64 1 >out.txt 2>err.txt &
P=$!
wait_lines out.txt 1
img1=$("$BIN/ckpt" now $P) || fail "first checkpoint: $(cat ck/status)"
n=$(lines out.txt); kill -INT $P; wait_lines out.txt $((n + 1))
img2=$("$BIN/ckpt" now $P) || fail "second checkpoint"
n=$(lines out.txt); kill -INT $P; wait_lines out.txt $((n + 1))
img3=$("$BIN/ckpt" now $P) || fail "third checkpoint"
s1=$(size "$img1"); s2=$(size "$img2"); s3=$(size "$img3")
"$BIN/ckpt" inspect --summary "$img3" >i3.txt || fail "inspect of the incremental image: $(cat i3.txt)"
grep -q "incremental: parent .*ckpt-2.img, chain of 3" i3.txt || fail "image 3 is not incremental on 2: $(grep incremental i3.txt)"
[ $((s2 * 100)) -le $((s1 * 3)) ] || fail "1% dirtied: second image is $s2 bytes, full is $s1 (> 3%)"
[ $((s3 * 100)) -le $((s1 * 3)) ] || fail "1% dirtied: third image is $s3 bytes, full is $s1 (> 3%)"
pass "after 1% of pages changed: full $s1 bytes, incremental $s2 and $s3 bytes"
kill -9 $P
wait $P 2>/dev/null

"$BIN/ckpt" restart "$img3" >>out.txt 2>>err.txt &
R=$!
wait_ready $R
n=$(lines out.txt); kill -HUP $R; wait_lines out.txt $((n + 1))
tail -1 out.txt | grep -q "verify ok" || fail "memory rebuilt from a chain of 3 images is wrong: $(tail -1 out.txt)"
pass "restart from the third image of a chain: memory verified by the job"
# the restarted job maps most of its memory from the images (zero-copy);
# change some, checkpoint it, and restart that
grep -q "ckpt-1.img" /proc/$R/maps || echo "note: restart did not map memory from the image"
n=$(lines out.txt); kill -INT $R; wait_lines out.txt $((n + 1))
img4=$("$BIN/ckpt" now --dir "$T/ck" $R) || fail "checkpoint of the restarted job: $(cat ck/status)"
kill -9 $R
wait $R 2>/dev/null
"$BIN/ckpt" restart "$img4" >>out.txt 2>>err.txt &
R=$!
wait_ready $R
n=$(lines out.txt); kill -HUP $R; wait_lines out.txt $((n + 1))
tail -1 out.txt | grep -q "verify ok" || fail "memory after restart of a restarted, changed job is wrong"
kill -TERM $R
wait $R || fail "restarted job exited $?"
pass "restarted job changed, checkpointed ($(stat -c %s "$img4") bytes) and restarted: memory verified"

rm -f "$img4"
# a restart from image 1 that checkpoints rewrites image 2: image 3's parent is gone
"$BIN/ckpt" restart "$img1" >>out.txt 2>>err.txt &
R=$!
wait_ready $R
"$BIN/ckpt" now --dir "$T/ck" $R >/dev/null || fail "checkpoint of the job restarted from image 1"
kill -9 $R
wait $R 2>/dev/null
"$BIN/ckpt" restart "$img3" 2>r.err && fail "restart with a replaced parent succeeded"
grep -q "replaced" r.err || fail "replaced parent: message '$(cat r.err)'"
pass "replaced parent refused: $(head -1 r.err)"
rm -f "$T/ck/ckpt-2.img"
"$BIN/ckpt" restart "$img3" 2>r.err && fail "restart with a missing parent succeeded"
grep -q "needs its parent image" r.err || fail "missing parent: message '$(cat r.err)'"
pass "missing parent refused"

# chains are bounded: with FULL_EVERY=2 every other image is full
KITE_CKPT_FULL_EVERY=2 "$BIN/ckpt" run --dir "$T/ck2" -- "$PROGS/bigmem" 8 >out2.txt &
P=$!
wait_lines out2.txt 1
for i in 1 2 3; do "$BIN/ckpt" now $P >/dev/null || fail "FULL_EVERY=2: checkpoint $i"; done
"$BIN/ckpt" inspect --summary "$T/ck2/ckpt-3.img" | grep -q "a full image" || fail "FULL_EVERY=2: image 3 is not full"
"$BIN/ckpt" inspect --summary "$T/ck2/ckpt-2.img" | grep -q "chain of 2" || fail "FULL_EVERY=2: image 2 is not incremental"
kill -9 $P
wait $P 2>/dev/null
pass "KITE_CKPT_FULL_EVERY=2: images full, incremental, full"
exit 0
