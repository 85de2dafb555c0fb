#!/bin/bash
# libckpt: `ckpt restart --move OLD=NEW` resumes a program whose files
# (its executable, its output and its working directory) were under OLD
# when it was checkpointed and are under NEW now — as when the startd
# restarts a job in a fresh sandbox on another machine.  The output must
# equal an uninterrupted run byte for byte, and nothing under OLD may be
# touched by the restarted program.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

STEPS=60
"$PROGS/counter" $STEPS 10 >ref.txt || fail "uninterrupted run failed"

mkdir old
cp "$PROGS/counter" old/job
(cd old && exec "$BIN/ckpt" run --dir "$T/ck" -- ./job $STEPS 10 >out.txt 2>err.txt) &
P=$!
wait_lines old/out.txt 20
img=$("$BIN/ckpt" now $P) || fail "ckpt now failed"
kill -9 $P
wait $P 2>/dev/null

# the "other machine": a fresh copy of the executable (new inode and
# mtime) in another directory, the old one gone
mkdir new
cp "$PROGS/counter" new/job
touch -d '2001-01-01' new/job
rm -rf old

out=$("$BIN/ckpt" restart "$img" 2>&1)
rc=$?
[ $rc -ne 0 ] || fail "restart without --move should fail now that the old directory is gone"
case "$out" in
*"$T/old"*) pass "without --move the restart is refused, naming the missing old path" ;;
*) fail "restart without --move: unexpected message: $out" ;;
esac

"$BIN/ckpt" restart --move "$T/old=$T/new" "$img" 2>restart.err
rc=$?
[ $rc -eq 0 ] || fail "restart --move exited $rc: $(cat restart.err)"
[ ! -e old ] || fail "the restarted program recreated the old directory"
cmp -s ref.txt new/out.txt || { diff ref.txt new/out.txt | head; fail "output differs from the uninterrupted run"; }
pass "restarted under the new directory: output identical to the uninterrupted run ($(wc -l <new/out.txt) lines)"

# --interval: the restarted program checkpoints on a new period (the
# first run had none)
"$BIN/ckpt" run --dir "$T/ck2" -- "$PROGS/counter" 150 20 >p.txt 2>p.err &
P=$!
wait_lines p.txt 10
img2=$("$BIN/ckpt" now $P) || fail "ckpt now failed"
kill -9 $P
wait $P 2>/dev/null
seq0=$(awk '$1 == "seq" {print $2}' ck2/status)
"$BIN/ckpt" restart --interval 1 "$img2" 2>r2.err &
R=$!
sleep 2.5
seq1=$(awk '$1 == "seq" {print $2}' ck2/status)
kill -9 $R
wait $R 2>/dev/null
[ "$seq1" -ge $((seq0 + 2)) ] || fail "restart --interval 1: status seq went from $seq0 to $seq1 in 2.5 s: $(cat ck2/status r2.err)"
pass "restart --interval 1 gives the restarted program periodic checkpoints (seq $seq0 -> $seq1)"
out=$("$BIN/ckpt" restart --interval -3 "$img2" 2>&1)
[ $? -eq 2 ] || fail "a negative --interval should be a usage error"
case "$out" in
*"--interval wants a whole number of seconds, not '-3'"*) pass "a bad --interval is refused: $out" ;;
*) fail "unexpected --interval message: $out" ;;
esac

out=$("$BIN/ckpt" restart --move "old=$T/new" "$img" 2>&1)
[ $? -eq 2 ] || fail "a relative --move path should be a usage error"
case "$out" in
*"--move wants one OLD=NEW pair of absolute paths"*) pass "a relative --move path is refused: $out" ;;
*) fail "unexpected --move usage message: $out" ;;
esac
exit 0
