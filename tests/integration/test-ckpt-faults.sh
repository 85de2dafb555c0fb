#!/bin/bash
# libckpt under a failing disk (KITE_FAULT=write:N:SEQ makes the Nth image
# write of checkpoint SEQ fail with ENOSPC): the failed checkpoint is
# reported by `ckpt now` with the reason, leaves no partial image and
# `latest` on the previous one, the job carries on, the next checkpoint
# works (incremental on the last good image), and restarting it gives the
# uninterrupted run's output.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

"$PROGS/counter" 80 10 >ref.txt
for n in 1 3 30; do
	rm -rf ck out.txt
	KITE_FAULT=write:$n:2 "$BIN/ckpt" run --dir "$T/ck" -- "$PROGS/counter" 80 10 >out.txt &
	P=$!
	wait_lines out.txt 10
	img1=$("$BIN/ckpt" now $P) || fail "write $n: first checkpoint failed"
	"$BIN/ckpt" now $P >now.out 2>now.err && fail "write $n: injected failure not reported"
	grep -q "errno 28" now.err || fail "write $n: message '$(cat now.err)' lacks the errno"
	[ "$(readlink ck/latest)" = "ckpt-1.img" ] || fail "write $n: latest moved to $(readlink ck/latest)"
	ls ck/ckpt-2.img ck/.ckpt-2.img.tmp 2>/dev/null | grep -q . && fail "write $n: partial image left behind: $(ls -a ck)"
	img3=$("$BIN/ckpt" now $P) || fail "write $n: checkpoint after the failure failed: $(cat ck/status)"
	"$BIN/ckpt" inspect --summary "$img3" | grep -q "parent .*ckpt-1.img" || fail "write $n: image 3 not based on image 1"
	kill -9 $P
	wait $P 2>/dev/null
	"$BIN/ckpt" restart "$img3" || fail "write $n: restart"
	cmp -s ref.txt out.txt || fail "write $n: output differs"
	pass "write $n of checkpoint 2 fails: reported ($(cut -c1-60 now.err)...), no partial image, next checkpoint and restart fine"
done

# The checkpoint child asks PAGEMAP_SCAN which anonymous pages are present,
# and reads /proc/self/pagemap where the kernel lacks it
# (KITE_FAULT=pagemap-scan:SEQ pretends so for checkpoint SEQ): a quiet
# process's full images 2 (read) and 3 (scanned) store the same pages.
rm -rf ck
KITE_CKPT_FULL_EVERY=1 KITE_FAULT=pagemap-scan:2 "$BIN/ckpt" run --dir "$T/ck" -- sleep 1000 &
P=$!
for i in 1 2 3; do "$BIN/ckpt" now --dir "$T/ck" $P >/dev/null || fail "pagemap-scan: checkpoint $i failed"; done
kill -9 $P
wait $P 2>/dev/null
for i in 2 3; do
	"$BIN/ckpt" inspect --summary ck/ckpt-$i.img | sed -n -e 's/^memory: *\([0-9]* regions, [0-9]* bytes stored\).*/\1/p' \
		-e '/^regions:/,$p' >regions-$i.txt || fail "pagemap-scan: inspect ckpt-$i.img"
done
grep -q "bytes stored" regions-2.txt && grep -q "heap" regions-2.txt || fail "pagemap-scan: no region table: $(head -3 regions-2.txt)"
diff regions-2.txt regions-3.txt >regions.diff || fail "pagemap-scan: pagemap read and PAGEMAP_SCAN store different pages: $(head -5 regions.diff)"
pass "pagemap read (checkpoint 2) and PAGEMAP_SCAN (checkpoint 3) store the same pages: $(head -1 regions-3.txt)"
exit 0
