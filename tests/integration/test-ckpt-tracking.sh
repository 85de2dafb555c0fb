#!/bin/bash
# libckpt dirty-page tracking (userfaultfd write-protect + PAGEMAP_SCAN):
# a job changes its memory in every way tracking must see — read() into
# tracked pages (the kernel writes them), new mmaps, brk growth, munmap
# and MAP_FIXED over a region, MADV_DONTNEED — with an incremental image
# after each change; each image is restarted and the job's checksums of
# every region must equal those it printed when the image was taken.  The
# same with tracking switched off (KITE_CKPT_NO_UFFD=1: page hashes) gives
# the same checksums.  Then a job that keeps rewriting its memory while
# checkpoints are taken (pages written between the fork and the child's
# scan) is restarted from every image and checks its memory is that of one
# instant of an uninterrupted run.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

status_field() { sed -n "s/^$1 //p" "$2/status"; }
# wait_last FILE REGEX: until the last line of FILE matches
wait_last() {
	local i=0
	until tail -1 "$1" 2>/dev/null | grep -q "$2"; do
		i=$((i + 1))
		[ $i -gt 3000 ] && fail "timed out waiting for a line '$2' in $1 (last: $(tail -1 "$1"))"
		sleep 0.01
	done
}

head -c 200000 /dev/urandom >data.bin

# steps MODE: run the 6 steps with an image after each; restart every image
steps() {
	local mode=$1 dir=$T/ck-$1 out=$T/steps-$1.txt
	local envs=()
	[ "$mode" = hashes ] && envs=(env KITE_CKPT_NO_UFFD=1)
	KITE_CKPT_FULL_EVERY=16 "${envs[@]}" "$BIN/ckpt" run --dir "$dir" -- "$PROGS/tracked" steps "$T/data.bin" \
		>"$out" 2>"$T/err-$mode.txt" &
	local P=$! n i img want_mode
	wait_lines "$out" 2
	img=$("$BIN/ckpt" now $P) || fail "$mode: checkpoint after step 0: $(cat "$dir/status")"
	for i in 1 2 3 4 5 6 7; do
		n=$(wc -l <"$out")
		kill -USR1 $P
		wait_lines "$out" $((n + 1))
		grep -q "^step $i sums" "$out" || fail "$mode: step $i: $(tail -1 "$out")"
		img=$("$BIN/ckpt" now $P) || fail "$mode: checkpoint after step $i: $(cat "$dir/status")"
		# step 7 closed libckpt's tracking descriptors: that image hashes
		want_mode=$mode
		[ $i = 7 ] && want_mode=hashes
		status_field "dirty tracking" "$dir" | grep -qx "$want_mode" ||
			fail "$mode: image $img found its dirty pages by '$(status_field "dirty tracking" "$dir")'"
		"$BIN/ckpt" inspect --summary "$img" | grep -q "chain of $((i + 1))" || fail "$mode: image $img is not incremental"
	done
	# ... and tracking is back for the next one (image 9, state of step 7)
	img=$("$BIN/ckpt" now $P) || fail "$mode: checkpoint after step 7: $(cat "$dir/status")"
	status_field "dirty tracking" "$dir" | grep -qx "$mode" ||
		fail "$mode: after the program closed its descriptors, tracking is '$(status_field "dirty tracking" "$dir")'"
	kill -9 $P
	wait $P 2>/dev/null
	cp "$out" "$out.orig"
	# the job's stdout is a file: a restart puts it back as it was at the
	# checkpoint and the job appends to it
	local k
	for k in 1 2 3 4 5 6 7 8 9; do
		i=$((k - 1))
		[ $k = 9 ] && i=7
		"$BIN/ckpt" restart "$dir/ckpt-$k.img" 2>"$T/rerr.txt" &
		local R=$!
		wait_ready $R
		kill -HUP $R
		wait_last "$out" "^check sums"
		kill -9 $R
		wait $R 2>/dev/null
		local want got
		want=$(grep "^step $i sums" "$out.orig" | sed 's/^step [0-9]* sums//')
		got=$(tail -1 "$out" | sed 's/^check sums//')
		[ -n "$want" ] && [ "$want" = "$got" ] ||
			fail "$mode: restart of image $k (after step $i): memory '$got', expected '$want'"
	done
	# a restarted job is tracked from its first instruction: change it,
	# checkpoint, restart that
	"$BIN/ckpt" restart "$dir/ckpt-4.img" 2>"$T/rerr.txt" &
	R=$!
	wait_ready $R
	kill -USR1 $R
	wait_last "$out" "^step 4 sums"
	img=$("$BIN/ckpt" now --dir "$dir" $R) || fail "$mode: checkpoint of the restarted job: $(cat "$dir/status")"
	[ "$mode" = hashes ] || status_field "dirty tracking" "$dir" | grep -qx "$mode" ||
		fail "$mode: checkpoint after a restart found its dirty pages by '$(status_field "dirty tracking" "$dir")'"
	want=$(tail -1 "$out" | sed 's/^step 4 sums//')
	kill -9 $R
	wait $R 2>/dev/null
	"$BIN/ckpt" restart "$img" 2>"$T/rerr.txt" &
	R=$!
	wait_ready $R
	kill -HUP $R
	wait_last "$out" "^check sums"
	kill -9 $R
	wait $R 2>/dev/null
	got=$(tail -1 "$out" | sed 's/^check sums//')
	[ "$want" = "$got" ] || fail "$mode: restarted, changed, checkpointed and restarted: '$got', expected '$want'"
	pass "$mode: 9 images (read() into tracked pages, mmap, brk, munmap + MAP_FIXED, MADV_DONTNEED, the job closing libckpt's descriptors), each restarted with every region as it was; a restarted job changed, checkpointed and restarted"
}

steps uffd-wp
grep -q "^step 6 sums" "$T/steps-uffd-wp.txt.orig" || fail "uffd-wp: the job did not run its 6 steps"
# the incremental images wrote only what changed: step 5 (one heap byte and
# a madvise) stores far less than the 4 MiB region A
s6=$(stat -c %s "$T/ck-uffd-wp/ckpt-6.img")
[ "$s6" -lt 1000000 ] || fail "image after step 5 is $s6 bytes (tracking stores unchanged pages?)"
read=$(status_field "pages read" "$T/ck-uffd-wp" | cut -d' ' -f1)
pass "uffd-wp: image after step 6 read $read pages, image after step 5 is $s6 bytes"
steps hashes
diff <(grep "^step" "$T/steps-uffd-wp.txt.orig") <(grep "^step" "$T/steps-hashes.txt.orig") >/dev/null ||
	fail "the job's own checksums differ with and without tracking"
# image 8 (the job had closed libckpt's descriptors: hashed) stores again
# the pages tracked images left unhashed (a full image's worth); tracking
# is back for image 9, which is as small as with hashes
for i in 2 3 4 5 6 7 9; do
	a=$(stat -c %s "$T/ck-uffd-wp/ckpt-$i.img")
	b=$(stat -c %s "$T/ck-hashes/ckpt-$i.img")
	# the same pages are stored; only the job's stack and timing-dependent
	# pages may differ a little
	[ $((a - b)) -lt 200000 ] && [ $((b - a)) -lt 200000 ] ||
		fail "image $i: $a bytes with tracking, $b with hashes"
done
pass "tracking off (KITE_CKPT_NO_UFFD=1): same checksums, images of the same size"

# A writer that never stops: pages written between a checkpoint's fork and
# its child's scan must not be trusted by the next image.
KITE_CKPT_FULL_EVERY=16 "$BIN/ckpt" run --dir "$T/churn" -- "$PROGS/tracked" churn 16 40 >churn.txt 2>churn.err &
P=$!
wait_lines churn.txt 1
for i in 1 2 3 4 5 6 7 8; do
	"$BIN/ckpt" now $P >/dev/null || fail "churn: checkpoint $i: $(cat "$T/churn/status")"
	sleep 0.0$((RANDOM % 10))
done
tracked=$(grep -c . <(for i in 2 3 4 5 6 7 8; do "$BIN/ckpt" inspect --summary "$T/churn/ckpt-$i.img" 2>/dev/null; done | grep "write-protect tracking (userfaultfd)"))
[ "$tracked" -eq 7 ] || fail "churn: only $tracked of images 2-8 used write-protect tracking"
n=$(wc -l <churn.txt)
kill -HUP $P
wait_lines churn.txt $((n + 1))
tail -1 churn.txt | grep -q "churn ok" || fail "churn: the running job itself: $(tail -1 churn.txt)"
kill -9 $P
wait $P 2>/dev/null
cp churn.txt churn.orig
for i in 1 2 3 4 5 6 7 8; do
	"$BIN/ckpt" restart "$T/churn/ckpt-$i.img" 2>r.err &
	R=$!
	wait_ready $R
	kill -HUP $R
	wait_last churn.txt "^churn "
	kill -9 $R
	wait $R 2>/dev/null
	tail -1 churn.txt | grep -q "churn ok" || fail "churn: restart of image $i: $(tail -1 churn.txt)"
done
# the restarted job keeps writing; images taken then are tracked too
"$BIN/ckpt" restart "$T/churn/ckpt-8.img" 2>r.err &
R=$!
wait_ready $R
for i in 9 10 11; do
	sleep 0.1
	"$BIN/ckpt" now --dir "$T/churn" $R >/dev/null || fail "churn: checkpoint $i of the restarted job"
	"$BIN/ckpt" inspect --summary "$T/churn/ckpt-$i.img" | grep -q "write-protect tracking (userfaultfd)" ||
		fail "churn: image $i (after a restart) did not use write-protect tracking"
done
kill -9 $R
wait $R 2>/dev/null
"$BIN/ckpt" restart "$T/churn/ckpt-11.img" 2>r.err &
R=$!
wait_ready $R
kill -HUP $R
wait_last churn.txt "^churn "
kill -9 $R
wait $R 2>/dev/null
tail -1 churn.txt | grep -q "churn ok" || fail "churn: restart of image 11 (taken after a restart): $(tail -1 churn.txt)"
pass "churn: 8 images taken while the job rewrote its memory, each restarted consistent; and 3 more taken by a restarted job"
exit 0
