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

out=$("$BIN/ckpt" restart --move "old=$T/new" "$img" 2>&1)
[ $? -eq 2 ] || fail "a relative --move path should be a usage error"
case "$out" in
*"--move wants one OLD=NEW pair of absolute paths"*) pass "a relative --move path is refused: $out" ;;
*) fail "unexpected --move usage message: $out" ;;
esac
exit 0
