#!/bin/bash
# libckpt relinked mode (ckpt-cc, libckpt.a), dynamic and static programs:
#  - a relinked counter, run without `ckpt run`, checkpointed, killed and
#    restarted, static and dynamic; and under `ckpt run` as well (the
#    preloaded copy must stand aside);
#  - the C API (kite/ckpt.h): kite_ckpt_now, kite_ckpt_exit (status 85),
#    restart detection, restart callbacks, excluded memory, critical
#    sections — from each image in turn.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1
for p in counter.static counter.relinked api.static api.relinked state.relinked; do
	[ -x "$PROGS/$p" ] || { echo "SKIP: $PROGS/$p not built"; exit 77; }
done

"$PROGS/counter" 60 10 >ref.txt
for prog in counter.static counter.relinked; do
	rm -rf ck out.txt
	KITE_CKPT_DIR=$T/ck "$PROGS/$prog" 60 10 >out.txt &
	P=$!
	wait_lines out.txt 15
	img=$("$BIN/ckpt" now --dir "$T/ck" $P) || fail "$prog: ckpt now failed"
	kill -9 $P
	wait $P 2>/dev/null
	"$BIN/ckpt" restart "$img" || fail "$prog: restart failed"
	cmp -s ref.txt out.txt || fail "$prog: output differs"
	pass "$prog: checkpointed without ckpt run, killed, restarted; output identical"
done

rm -rf ck out.txt
"$BIN/ckpt" run --dir "$T/ck" -- "$PROGS/counter.relinked" 60 10 >out.txt &
P=$!
wait_lines out.txt 15
img=$("$BIN/ckpt" now $P) || fail "relinked under ckpt run: ckpt now failed"
kill -9 $P
wait $P 2>/dev/null
"$BIN/ckpt" restart "$img" || fail "relinked under ckpt run: restart failed"
cmp -s ref.txt out.txt || fail "relinked under ckpt run: output differs"
pass "relinked program under ckpt run (libckpt.so preloaded too) checkpoints and restarts"

mkdir ref run
"$PROGS/state" 30 5 "$T/ref" >sref.txt || fail "state reference run"
KITE_CKPT_DIR=$T/cks "$PROGS/state.relinked" 30 5 "$T/run" >sout.txt &
P=$!
wait_lines sout.txt 12
img=$("$BIN/ckpt" now --dir "$T/cks" $P) || fail "state.relinked: ckpt now failed"
kill -9 $P
wait $P 2>/dev/null
"$BIN/ckpt" restart "$img" 2>serr.txt || fail "state.relinked: restart failed: $(grep FAIL sout.txt; cat serr.txt)"
cmp -s sref.txt sout.txt || fail "state.relinked: output differs"
pass "state.relinked: process state survives, checked by the program"

for prog in api.static api.relinked; do
	rm -rf cka out.txt err.txt
	seq 0 29 | sed 's/^/step /' >aref.txt
	echo "ok: 30 steps" >>aref.txt
	KITE_CKPT_DIR=$T/cka "$PROGS/$prog" 30 >out.txt 2>err.txt
	rc=$?
	[ $rc -eq 85 ] || fail "$prog: exited $rc, expected 85 from kite_ckpt_exit ($(cat out.txt err.txt | grep -v '^step'))"
	grep -q "kite_ckpt_now returned 0" err.txt || fail "$prog: kite_ckpt_now: $(cat err.txt)"
	[ -f cka/ckpt-3.img ] || fail "$prog: expected images 1 (critical section), 2 (now), 3 (exit): $(ls cka)"
	"$BIN/ckpt" restart cka/ckpt-3.img 2>>err.txt || fail "$prog: restart of the exit image: $(grep FAIL out.txt)"
	grep -q "kite_ckpt_exit returned 1" err.txt || fail "$prog: kite_ckpt_exit did not report the restart"
	cmp -s aref.txt out.txt || fail "$prog: output after restarting the exit image differs"
	"$BIN/ckpt" restart cka/ckpt-2.img 2>>err.txt
	rc=$?
	[ $rc -eq 85 ] || fail "$prog: restart of the 'now' image exited $rc, expected 85 ($(grep FAIL out.txt))"
	[ "$(grep -c 'kite_ckpt_now returned 1' err.txt)" -eq 1 ] || fail "$prog: kite_ckpt_now did not report the restart"
	"$BIN/ckpt" restart cka/latest 2>>err.txt || fail "$prog: restart of the latest image"
	cmp -s aref.txt out.txt || fail "$prog: final output differs"
	pass "$prog: C API — now/exit/restart detection/callback/exclude/critical section"
done
exit 0
