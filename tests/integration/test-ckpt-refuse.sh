#!/bin/bash
# libckpt refuses, with a reason and a nonzero exit, what it cannot do right:
#  - images that are corrupt (payload or header byte flipped), truncated,
#    or not images at all — before touching anything (no partial restore);
#  - restarting when a file the program had mapped (here its executable)
#    changed since the checkpoint, or is another build (GNU build-id);
#  - checkpointing a job holding a pipe on fd 5, or with a thread that
#    blocks the checkpoint signal: `ckpt now` fails naming the reason and
#    the job carries on unharmed.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

cp "$PROGS/counter" ./counter
"$BIN/ckpt" run --dir "$T/ck" -- ./counter 40 10 >out.txt &
P=$!
wait_lines out.txt 10
img=$("$BIN/ckpt" now --exit $P) || fail "ckpt now --exit failed"
wait $P
cp out.txt out.saved
size=$(stat -c %s "$img")

expect_refused() { # NAME IMAGE PATTERN
	local name=$1 image=$2 pattern=$3
	"$BIN/ckpt" restart "$image" >r.out 2>r.err
	local rc=$?
	[ $rc -ne 0 ] || fail "$name: restart succeeded"
	grep -q -- "$pattern" r.err || fail "$name: message '$(cat r.err)' lacks '$pattern'"
	cmp -s out.txt out.saved || fail "$name: refused restart still touched the output file"
	"$BIN/ckpt" inspect "$image" >/dev/null 2>i.err && fail "$name: inspect accepted it"
	pass "$name refused: $(head -1 r.err)"
}

cp "$img" flip.img
printf '\xff' | dd of=flip.img bs=1 seek=$((size * 2 / 3)) conv=notrunc status=none
cmp -s "$img" flip.img && { printf '\x00' | dd of=flip.img bs=1 seek=$((size * 2 / 3)) conv=notrunc status=none; }
# (two thirds into the image is usually page data, whose checksum fails;
# where the layout puts a record's header there, the header is refused)
expect_refused "flipped byte two thirds in" flip.img "checksum mismatch\|bad [A-Z]* record"

cp "$img" head.img
printf 'X' | dd of=head.img bs=1 seek=100 conv=notrunc status=none
expect_refused "flipped header byte" head.img "header checksum mismatch"

head -c $((size / 2)) "$img" >short.img
expect_refused "truncated image" short.img "truncated"

head -c 4096 /dev/urandom >random.img
expect_refused "random bytes" random.img "not a libckpt image"

# the intact image still restarts
"$BIN/ckpt" restart "$img" || fail "intact image did not restart"
"$PROGS/counter" 40 10 >ref.txt
cmp -s ref.txt out.txt || fail "intact image: output differs"
pass "the intact image restarts after all that"

# changed executable
"$BIN/ckpt" run --dir "$T/ck2" -- ./counter 40 10 >out2.txt &
P=$!
wait_lines out2.txt 5
img2=$("$BIN/ckpt" now --exit $P) || fail "ckpt now --exit failed"
wait $P
touch -d '2001-01-01' counter # same build, other timestamps (as on another machine)
"$BIN/ckpt" restart "$img2" 2>r.err || fail "same build with another mtime refused: $(cat r.err)"
pass "same executable build with another mtime accepted (build-id)"
cp out2.txt out.saved
echo >>counter
"$BIN/ckpt" restart "$img2" 2>r.err && fail "restart with a changed executable succeeded"
grep -q "changed since the checkpoint" r.err || fail "changed executable: message '$(cat r.err)'"
cmp -s out2.txt out.saved || fail "refused restart touched out2.txt"
pass "changed executable refused: $(head -1 r.err)"
cp "$PROGS/quiet" counter
"$BIN/ckpt" restart "$img2" 2>r.err && fail "restart with another build of the executable succeeded"
grep -q "is not the build" r.err || fail "other build: message '$(cat r.err)'"
cmp -s out2.txt out.saved || fail "refused restart touched out2.txt"
pass "another build refused (build-id): $(head -1 r.err | cut -c1-150)..."

# pipe on fd 5
mkfifo fifo
"$BIN/ckpt" run --dir "$T/ck3" -- "$PROGS/counter" 40 10 >out3.txt 5<>fifo &
P=$!
wait_lines out3.txt 5
"$BIN/ckpt" now $P >/dev/null 2>n.err && fail "checkpoint with a pipe on fd 5 succeeded"
grep -q "fd 5 is a pipe" n.err || fail "pipe: message '$(cat n.err)'"
wait $P || fail "job with a refused checkpoint did not finish cleanly"
tail -1 out3.txt | grep -q "^ok" || fail "job with a refused checkpoint failed its checks"
pass "pipe refused: $(head -1 n.err)"

# a thread that blocks the checkpoint signal cannot be stopped
"$BIN/ckpt" run --dir "$T/ck4" -- "$PROGS/quiet" 300 10 blocking >out4.txt &
P=$!
wait_lines out4.txt 5
"$BIN/ckpt" now $P >/dev/null 2>n.err && fail "checkpoint with a thread blocking SIGUSR2 succeeded"
grep -q "did not stop" n.err || fail "blocking thread: message '$(cat n.err)'"
wait $P || fail "job with a blocking thread did not finish cleanly"
pass "thread blocking the signal refused: $(head -1 n.err)"
exit 0
