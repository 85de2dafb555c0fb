#!/bin/bash
# libckpt: a counter is checkpointed mid-run (copy-on-write, it keeps
# running), killed, and restarted in the `ckpt restart` process; its output
# file must equal an uninterrupted run byte for byte, and its own checks of
# heap, mmap, stack, TLS and FPU state must pass.  Then the restarted
# program is checkpointed and killed again and restarted from that image.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

STEPS=90
"$PROGS/counter" $STEPS 10 >ref.txt || fail "uninterrupted run failed"
tail -1 ref.txt | grep -q "^ok: $STEPS steps" || fail "reference run did not verify itself"

"$BIN/ckpt" run --dir "$T/ck" -- "$PROGS/counter" $STEPS 10 >out.txt 2>err.txt &
P=$!
wait_lines out.txt 20
img=$("$BIN/ckpt" now $P) || fail "ckpt now failed: $(cat ck/status 2>/dev/null)"
[ -f "$img" ] || fail "ckpt now printed '$img', not an image"
kill -9 $P
wait $P 2>/dev/null
pass "checkpointed pid $P mid-run into $img and killed it"

"$BIN/ckpt" inspect --summary "$img" >inspect.txt || fail "ckpt inspect failed"
grep -q "every checksum verified" inspect.txt || fail "inspect did not verify"

# restart #1, checkpointed again while it runs, then killed
"$BIN/ckpt" restart "$img" 2>restart1.err &
R=$!
wait_lines out.txt 50
img2=$("$BIN/ckpt" now $R) || fail "ckpt now of the restarted program failed: $(cat ck/status 2>/dev/null; cat restart1.err)"
[ "$img2" != "$img" ] || fail "second checkpoint reused the first image's name"
kill -9 $R
wait $R 2>/dev/null
pass "restarted program (pid $R, was $P) checkpointed again into $img2"

# restart #2 runs to the end
"$BIN/ckpt" restart "$img2" 2>restart2.err
rc=$?
[ $rc -eq 0 ] || fail "restart of the restarted program exited $rc: $(cat restart2.err)"
cmp -s ref.txt out.txt || { diff ref.txt out.txt | head; fail "output differs from the uninterrupted run"; }
pass "restart of a restart: output identical to the uninterrupted run ($(wc -l <out.txt) lines)"

# now_while_restarting WHAT CMD...: start CMD (a restart of $img) in the
# background and `ckpt now` it at once: it must wait for the program to be
# back instead of finding the restarting command's environment
now_while_restarting() {
	local what=$1 R out
	shift
	"$@" >/dev/null 2>restart4.err &
	R=$!
	out=$("$BIN/ckpt" now $R 2>now4.err) || fail "ckpt now $what failed: $(cat now4.err)"
	kill -9 $R
	wait $R 2>/dev/null
	[ -f "$out" ] || fail "ckpt now $what printed '$out', not an image"
	pass "ckpt now $what waits for the program and checkpoints it"
}
now_while_restarting "at once after ckpt restart" "$BIN/ckpt" restart "$img"
# ... even before the shell has exec'd `ckpt restart` (a copy of the shell
# until then: this window made the case above flaky)
now_while_restarting "before the shell has exec'd ckpt restart" \
	bash -c 'sleep 0.3; exec "$0" restart "$1"' "$BIN/ckpt" "$img"

# and the first image is still restartable: same result again
"$BIN/ckpt" restart "$img" 2>restart3.err || fail "second restart from the first image failed: $(cat restart3.err)"
cmp -s ref.txt out.txt || fail "output differs after restarting the first image again"
pass "the first image restarts again to the same output"
exit 0
