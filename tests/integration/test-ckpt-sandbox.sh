#!/bin/bash
# libckpt and the job's sandbox (KITE_CKPT_SANDBOX): the files a job wrote
# and closed are in every image.  `phases` (a file every ten steps, all
# checked at the end) under periodic checkpoints is SIGKILLed after one and
# restarted with --move into a fresh directory: it completes, and its
# stdout, stderr and every file are byte for byte (and mode for mode)
# those of an uninterrupted run.  An image taken when no file changed
# stores no file bytes (they stay in the parent); a file changed between
# checkpoints is stored anew (only its changed chunk); a restart replaces
# a file whose content differs; on a ckpt_server a second image sends
# nothing of an unchanged file; a sandbox over KITE_CKPT_SANDBOX_MAX, a
# file rewritten while the checkpoint runs and a damaged file copy are
# refused with messages that say what and where.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

# --- an uninterrupted run, the reference
mkdir ref
printf 'input kept private\n' >ref/input.dat
chmod 0640 ref/input.dat
# (150 steps of 40 ms: time for a periodic checkpoint to be seen on a busy
# machine before the job ends; the reference runs meanwhile)
(cd ref && exec "$PROGS/phases" 150 40 >out.txt 2>err.txt) &
REF=$!

# --- the same run, checkpointed every second, killed after a checkpoint
mkdir sbx
cp -p ref/input.dat sbx/input.dat
cd sbx
KITE_CKPT_SANDBOX=$T/sbx "$BIN/ckpt" run --dir "$T/ck" --interval 1 -- "$PROGS/phases" 150 40 >out.txt 2>err.txt &
P=$!
cd "$T"
# until a committed image holds phase-10.txt (periodic checkpoints only)
i=0
until [ -e ck/latest ] && "$BIN/ckpt" inspect --summary ck >inspect.txt 2>&1 && grep -q ' phase-10.txt$' inspect.txt; do
	i=$((i + 1))
	[ $i -gt 1500 ] && fail "no periodic checkpoint holding phase-10.txt within 15 s: $(cat ck/status)"
	kill -0 $P 2>/dev/null || fail "phases ended before a checkpoint held phase-10.txt"
	sleep 0.01
done
kill -9 $P
wait $P 2>/dev/null
seq=$(sed -n 's/^created: .*checkpoint #\([0-9]*\) .*/\1/p' inspect.txt)
grep -q "^sandbox:    $T/sbx: " inspect.txt || fail "inspect shows no sandbox: $(cat inspect.txt)"
grep -Eq '^  0640 +19 stored +input.dat$' inspect.txt || fail "inspect does not list input.dat (0640, 19 bytes): $(grep -A8 '^sandbox' inspect.txt)"
grep -q ' out.txt$' inspect.txt && fail "stdout (open for writing) is listed as a closed sandbox file"
pass "periodic checkpoint #$seq holds the closed files: $(grep -c ' phase-.*\.txt$' inspect.txt) phase files and input.dat"

# --- restart in a fresh directory, as on another machine
wait $REF || fail "reference run of phases failed: $(cat ref/err.txt)"
mkdir new
(cd new && "$BIN/ckpt" restart --move "$T/sbx=$T/new" "$T/ck" >"$T/restart.out" 2>"$T/restart.err") &
R=$!
wait $R
rc=$?
[ $rc -eq 0 ] || fail "restarted phases exited $rc: $(cat new/err.txt restart.err 2>/dev/null | tail -3)"
want=$(cd ref && ls -A | sort | tr '\n' ' ')
got=$(cd new && ls -A | sort | tr '\n' ' ')
[ "$got" = "$want" ] || fail "files after the restart: [$got], uninterrupted run: [$want]"
for f in ref/*; do
	n=${f#ref/}
	cmp -s "$f" "new/$n" || fail "new/$n differs from the uninterrupted run's: $(diff "$f" "new/$n" | head -5)"
	[ "$(stat -c %a "$f")" = "$(stat -c %a "new/$n")" ] ||
		fail "new/$n has mode $(stat -c %a "new/$n"), the uninterrupted run's $(stat -c %a "$f")"
done
tail -1 new/out.txt | grep -q '^ok: 150 steps, 15 phase files$' || fail "phases did not check its files: $(tail -1 new/out.txt)"
pass "killed after checkpoint #$seq, restarted with --move into a fresh directory: $(ls new | wc -l) files byte for byte and mode for mode"

# --- incremental images: unchanged files cost nothing, changed chunks are stored again
mkdir inc
head -c $((3 << 20)) /dev/urandom >inc/data.bin
printf 'sandbox-marker-0123\n' >inc/note.txt
cp inc/data.bin data.orig
cd inc
KITE_CKPT_SANDBOX=. "$BIN/ckpt" run --dir "$T/ck2" -- "$PROGS/quiet" 100000 50 >"$T/quiet.out" 2>"$T/quiet.err" &
Q=$!
cd "$T"
wait_ready $Q
img1=$("$BIN/ckpt" now $Q) || fail "first checkpoint: $(cat ck2/status)"
img2=$("$BIN/ckpt" now $Q) || fail "second checkpoint: $(cat ck2/status)"
"$BIN/ckpt" inspect --summary "$img1" >i1.txt || fail "inspect $img1: $(cat i1.txt)"
"$BIN/ckpt" inspect --summary "$img2" >i2.txt || fail "inspect $img2: $(cat i2.txt)"
grep -q "^sandbox:    $T/inc: 2 closed file(s), 3145748 bytes stored, 0 bytes in the parent images$" i1.txt ||
	fail "first image: $(grep '^sandbox' i1.txt)"
grep -q "^sandbox:    $T/inc: 2 closed file(s), 0 bytes stored, 3145748 bytes in the parent images$" i2.txt ||
	fail "second image, nothing changed: $(grep '^sandbox' i2.txt)"
s1=$(stat -c %s "$img1")
s2=$(stat -c %s "$img2")
[ $((s1 - s2)) -ge $((3 << 20)) ] || fail "second image is $s2 bytes, the first $s1: the files were stored again"
pass "nothing changed: image 2 stores 0 file bytes ($s2 bytes in all; image 1 $s1)"
# one byte in the second MiB of data.bin
printf 'X' | dd of=inc/data.bin bs=1 seek=$((1 << 20 | 5)) conv=notrunc status=none
sleep 0.05 # older than the checkpoint by more than the file clock's tick
img3=$("$BIN/ckpt" now $Q) || fail "third checkpoint: $(cat ck2/status)"
"$BIN/ckpt" inspect --summary "$img3" >i3.txt || fail "inspect $img3"
grep -q "^sandbox:    $T/inc: 2 closed file(s), 1048576 bytes stored, 2097172 bytes in the parent images$" i3.txt ||
	fail "third image, one chunk of data.bin changed: $(grep '^sandbox' i3.txt)"
grep -Eq '^  0644 +3145728 2097152 bytes from the parent data.bin$' i3.txt ||
	fail "third image's data.bin: $(grep data.bin i3.txt)"
pass "one byte changed: image 3 stores that 1 MiB chunk of data.bin again, the rest stays in the parents"
kill -9 $Q
wait $Q 2>/dev/null

# restart image 3 elsewhere: the changed file; then image 2 over it: the old content replaces it
cp inc/data.bin data.changed
mkdir inc3
(cd inc3 && exec "$BIN/ckpt" restart --move "$T/inc=$T/inc3" "$img3" >>"$T/quiet.out" 2>>"$T/restart3.err") &
R=$!
wait_ready $R
cmp -s data.changed inc3/data.bin || fail "data.bin restored from image 3 (a chain of 3) differs from the changed file"
cmp -s inc/note.txt inc3/note.txt || fail "note.txt restored from image 3 differs"
# the restarted job's next image names its new sandbox (libckpt's descriptor followed the --move)
img4=$("$BIN/ckpt" now $R) || fail "checkpoint of the restarted job: $(cat ck2/status)"
"$BIN/ckpt" inspect --summary "$img4" >i4.txt || fail "inspect $img4"
grep -q "^sandbox:    $T/inc3: 2 closed file(s), " i4.txt || fail "the restarted job's image: $(grep '^sandbox' i4.txt)"
kill -9 $R
wait $R 2>/dev/null
(cd inc3 && exec "$BIN/ckpt" restart --move "$T/inc=$T/inc3" "$img2" >>"$T/quiet.out" 2>>"$T/restart2.err") &
R=$!
wait_ready $R
cmp -s data.orig inc3/data.bin || fail "restart from image 2 left the changed data.bin instead of replacing it"
kill -9 $R
wait $R 2>/dev/null
pass "restarts from images 3 and 2 into one directory: each leaves its own data.bin (the differing one replaced)"

# --- too much: KITE_CKPT_SANDBOX_MAX
mkdir big
head -c $((2 << 20)) /dev/zero >big/big.bin
cd big
KITE_CKPT_SANDBOX=$T/big KITE_CKPT_SANDBOX_MAX=1M "$BIN/ckpt" run --dir "$T/ck3" -- "$PROGS/quiet" 100000 50 >"$T/big.out" 2>"$T/big.err" &
B=$!
cd "$T"
wait_ready $B
"$BIN/ckpt" now $B >/dev/null 2>now.err && fail "a checkpoint of a sandbox over KITE_CKPT_SANDBOX_MAX succeeded"
want="ckpt now: checkpoint of process $B failed: the sandbox's closed files are over KITE_CKPT_SANDBOX_MAX (1048576 bytes) at big.bin (2097152 bytes); remove files the job no longer needs, or raise the limit"
[ "$(cat now.err)" = "$want" ] || fail "message for a sandbox over its limit: $(cat now.err)"
[ -e ck3/latest ] && fail "an image was committed for a sandbox over its limit"
ls -A ck3 | grep -q 'tmp' && fail "a refused image left temporary files: $(ls -A ck3)"
kill -0 $B || fail "the job did not carry on after the refused checkpoint"
kill -9 $B
wait $B 2>/dev/null
pass "sandbox over KITE_CKPT_SANDBOX_MAX: refused with the reason, no image, the job carries on"
cd big
KITE_CKPT_SANDBOX=$T/big KITE_CKPT_SANDBOX_MAX=lots "$BIN/ckpt" run --dir "$T/ck3b" -- "$PROGS/quiet" 100000 50 >>"$T/big.out" 2>>"$T/big.err" &
B=$!
cd "$T"
wait_ready $B
"$BIN/ckpt" now $B >/dev/null 2>now.err && fail "a checkpoint with KITE_CKPT_SANDBOX_MAX=lots succeeded"
[ "$(cat now.err)" = "ckpt now: checkpoint of process $B failed: KITE_CKPT_SANDBOX_MAX is not a size such as 512M (at most 16G)" ] ||
	fail "message for KITE_CKPT_SANDBOX_MAX=lots: $(cat now.err)"
kill -9 $B
wait $B 2>/dev/null
pass "KITE_CKPT_SANDBOX_MAX=lots: $(cat now.err)"

# --- a file written while the checkpoint runs: no torn or too new copy
mkdir hot
printf 'steady\n' >hot/hot.txt
cd hot
KITE_CKPT_SANDBOX=$T/hot "$BIN/ckpt" run --dir "$T/ck4" -- "$PROGS/quiet" 100000 50 >"$T/hot.out" 2>"$T/hot.err" &
H=$!
cd "$T"
wait_ready $H
( while :; do echo "rewritten $RANDOM" >hot/hot.txt; done ) 2>/dev/null &
W=$!
sleep 0.2
# (a checkpoint may legitimately succeed if the writer was descheduled
# through the whole window on a busy machine: a few tries)
refused=0
for i in 1 2 3 4 5; do
	"$BIN/ckpt" now $H >/dev/null 2>now.err || { refused=1; break; }
done
[ $refused = 1 ] || fail "five checkpoints succeeded while hot.txt was being rewritten"
want="ckpt now: checkpoint of process $H failed: sandbox file hot.txt changed after the checkpoint began; a copy of it would not match the memory being saved, so the image is refused and the next checkpoint tries again"
[ "$(cat now.err)" = "$want" ] || fail "message for a file written during the checkpoint: $(cat now.err)"
ls -A ck4 | grep -q 'tmp' && fail "a refused image left temporary files: $(ls -A ck4)"
kill $W
wait $W 2>/dev/null
printf 'settled\n' >hot/hot.txt
sleep 0.05
img=$("$BIN/ckpt" now $H) || fail "checkpoint once hot.txt settled: $(cat ck4/status)"
mkdir hot2
(cd hot2 && exec "$BIN/ckpt" restart --move "$T/hot=$T/hot2" "$img" >>"$T/hot.out" 2>>"$T/hot.err") &
R=$!
wait_ready $R
[ "$(cat hot2/hot.txt)" = settled ] || fail "hot.txt restored as '$(cat hot2/hot.txt)', not as it was at the checkpoint"
kill -9 $R $H
wait $R $H 2>/dev/null
pass "hot.txt rewritten during the checkpoint: refused with the reason; once it settled, saved and restored"

# --- on a checkpoint server: unchanged files are deduplicated
if [ -x "$BIN/ckpt_server" ]; then
	. "$TOP/tests/integration/ckpt-server-lib.sh"
	start_server
	mkdir srvjob
	head -c $((4 << 20)) /dev/urandom >srvjob/big.dat
	cd srvjob
	KITE_CKPT_SANDBOX=. "$BIN/ckpt" run --server "$SRV" --dir "$T/ck5" -- "$PROGS/quiet" 100000 50 >"$T/srv.out" 2>"$T/srv.err" &
	S=$!
	cd "$T"
	wait_ready $S
	"$BIN/ckpt" now $S >/dev/null || fail "first checkpoint to the server: $(cat ck5/status)"
	"$BIN/ckpt" now $S >/dev/null || fail "second checkpoint to the server: $(cat ck5/status)"
	read -r size1 sent1 < <(grep "committed image" "$T/srv/log" | tail -2 | head -1 |
		sed -n 's/.*: \([0-9]*\) bytes in [0-9]* chunks; the upload sent \([0-9]*\) bytes/\1 \2/p')
	read -r size2 sent2 < <(grep "committed image" "$T/srv/log" | tail -1 |
		sed -n 's/.*: \([0-9]*\) bytes in [0-9]* chunks; the upload sent \([0-9]*\) bytes/\1 \2/p')
	[ -n "$sent2" ] && [ "$size2" -gt $((4 << 20)) ] || fail "server image of '$size2' bytes: $(tail -3 "$T/srv/log")"
	[ "$sent1" -gt $((4 << 20)) ] || fail "the first image sent only $sent1 bytes: the 4 MiB file is not in it"
	[ "$sent2" -lt $((1 << 20)) ] || fail "the second image (nothing changed) sent $sent2 bytes of $size2"
	# and restarted from the server elsewhere, big.dat is back
	mkdir srvjob2
	(cd srvjob2 && exec "$BIN/ckpt" restart --move "$T/srvjob=$T/srvjob2" "$T/ck5" >>"$T/srv.out" 2>>"$T/srv.err") &
	R=$!
	wait_ready $R
	cmp -s srvjob/big.dat srvjob2/big.dat || fail "big.dat restored from the server differs"
	kill -9 $R $S
	wait $R $S 2>/dev/null
	stop_server
	pass "on a ckpt_server: image 1 sent $sent1 bytes, image 2 (nothing changed) $sent2 of $size2; restarted elsewhere with big.dat"
fi

# --- a damaged copy of a file: the restart is refused, naming the image and the file
cp "$img1" bad.img
off=$(grep -obUa 'sandbox-marker-0123' bad.img | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "note.txt's content is not in the image"
printf 'Z' | dd of=bad.img bs=1 seek=$((off + 3)) conv=notrunc status=none
mkdir dmg
(cd dmg && "$BIN/ckpt" restart --move "$T/inc=$T/dmg" "$T/bad.img" >"$T/dmg.out" 2>"$T/dmg.err") && fail "a damaged image was restarted"
grep -q "^ckpt restart: refusing to restart $T/bad.img: $T/bad.img: sandbox file note.txt: bytes 0-20 of its copy are damaged (FILEDATA record at offset [0-9]*: data checksum mismatch (stored [0-9a-f]*, computed [0-9a-f]*): the image is corrupt)$" dmg.err ||
	fail "message for a damaged file copy: $(cat dmg.err)"
[ -z "$(ls -A dmg)" ] || fail "a refused restart wrote files: $(ls -A dmg)"
pass "a damaged copy of note.txt: $(cat dmg.err)"
