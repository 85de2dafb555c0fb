#!/bin/bash
# libckpt: eventfd, timerfd, signalfd and epoll descriptors are saved and
# made again at a restart (tests/programs/kfds: an eventfd and its dup, a
# counting eventfd read only at the end, a signalfd, a periodic timerfd,
# an epoll instance watching them).  The output of a run checkpointed,
# killed and restarted — twice — is that of an uninterrupted run;
# `ckpt inspect` shows each kind; an epoll instance watching a closed
# descriptor is refused with the reason.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

"$PROGS/kfds" 40 40 >ref.txt || fail "uninterrupted run failed: $(tail -1 ref.txt)"

"$BIN/ckpt" run --dir "$T/ck" -- "$PROGS/kfds" 40 40 >out.txt 2>err.txt &
P=$!
wait_lines out.txt 10
img=$("$BIN/ckpt" now $P) || fail "ckpt now failed: $(cat err.txt)"
kill -9 $P
wait $P 2>/dev/null
ins=$("$BIN/ckpt" inspect "$img") || fail "ckpt inspect failed"
for k in eventfd timerfd signalfd epoll dup; do
	grep -q "^  fd [0-9]* *$k " <<<"$ins" || fail "ckpt inspect shows no $k descriptor: $(grep '^  fd' <<<"$ins")"
done
grep -q "eventfd-count" <<<"$ins" || fail "ckpt inspect does not show the eventfd's counter"
pass "ckpt inspect shows the eventfd, its dup, the timerfd, the signalfd and the epoll instance"

# restarted, checkpointed again after a few more steps, killed, restarted
"$BIN/ckpt" restart "$img" 2>restart.err &
R=$!
n=$(grep -c . out.txt)
wait_lines out.txt $((n + 8)) || fail "the restarted program made no progress: $(cat restart.err; tail -2 out.txt)"
img2=$("$BIN/ckpt" now $R) || fail "checkpoint of the restarted program failed"
kill -9 $R
wait $R 2>/dev/null
"$BIN/ckpt" restart "$img2" 2>>restart.err
rc=$?
[ $rc -eq 0 ] || fail "second restart exited $rc: $(cat restart.err; tail -2 out.txt)"
cmp -s ref.txt out.txt || fail "output differs from the uninterrupted run: $(diff ref.txt out.txt | head -5)"
pass "checkpointed, killed and restarted twice: output byte for byte that of an uninterrupted run"

# an epoll instance watching a descriptor number that was closed
"$BIN/ckpt" run --dir "$T/ck2" -- "$PROGS/kfds" 400 40 stale >stale.txt 2>&1 &
P=$!
wait_lines stale.txt 2
out=$("$BIN/ckpt" now $P 2>&1) && fail "a stale epoll watch was checkpointed"
case "$out" in
*"is an epoll instance that watches descriptor"*"which is closed or now another file"*) ;;
*) fail "unexpected refusal: $out" ;;
esac
kill -0 $P || fail "the refused program did not go on"
kill -9 $P
wait $P 2>/dev/null
pass "an epoll instance watching a closed descriptor is refused, and the program goes on: ${out#*failed: }"
exit 0
