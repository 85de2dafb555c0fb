#!/bin/bash
# libckpt's huge pages (docs/ckpt.md, "Huge pages"): under `ckpt run` a
# job's large private anonymous memory — its own mmap()s and glibc's
# malloc — is advised MADV_HUGEPAGE, a program's own MADV_NOHUGEPAGE is
# kept, small mappings are left alone, KITE_CKPT_HUGE_PAGES=0 turns the
# default off, `ckpt inspect` shows the advice, and a restart gives every
# region the same advice again with its contents intact.  Checked in the
# kernel's own words: the VmFlags of /proc/PID/smaps ("hg", "nh").
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
cd "$T" || exit 1

[ -e /sys/kernel/mm/transparent_hugepage/enabled ] ||
	{ echo "SKIP: this kernel has no transparent huge pages"; exit 77; }

# flags PID ADDR: the VmFlags of the mapping that holds ADDR
flags() {
	local a=$(( $2 )) line inr=0 re='^([0-9a-f]+)-([0-9a-f]+) '
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			inr=$(( a >= 16#${BASH_REMATCH[1]} && a < 16#${BASH_REMATCH[2]} ))
		elif [ $inr = 1 ] && [[ $line == VmFlags:* ]]; then
			echo "$line"
			return
		fi
	done <"/proc/$1/smaps"
}
# region_line INSPECT ADDR: ckpt inspect's line of the region holding ADDR
region_line() {
	local a=$(( $2 )) line re='^ *([0-9a-f]+)-([0-9a-f]+) '
	while IFS= read -r line; do
		[[ $line =~ $re ]] && (( a >= 16#${BASH_REMATCH[1]} && a < 16#${BASH_REMATCH[2]} )) && { echo "$line"; return; }
	done <<<"$1"
}
has() { [[ " $(flags "$1" "$2") " == *" $3 "* ]]; }
addr() { sed -n "s/^$2 //p" "$1"; }

# check_run NAME PID OUT DEFAULT(1|0): the advice of each piece
check_run() {
	local name=$1 P=$2 out=$3 dflt=$4 a
	for piece in big heap; do
		a=$(addr "$out" $piece)
		if [ "$dflt" = 1 ]; then
			has $P "$a" hg || fail "$name: '$piece' ($a) is not advised huge: $(flags $P "$a")"
		else
			! has $P "$a" hg || fail "$name: '$piece' ($a) is advised huge with KITE_CKPT_HUGE_PAGES=0"
		fi
	done
	a=$(addr "$out" nohuge)
	has $P "$a" nh || fail "$name: the program's MADV_NOHUGEPAGE on 'nohuge' ($a) is lost: $(flags $P "$a")"
	! has $P "$a" hg || fail "$name: 'nohuge' ($a) is advised huge"
	a=$(addr "$out" small)
	! has $P "$a" hg || fail "$name: the 1 MiB mapping ($a) is advised huge"
	pass "$name: big and malloc'd memory $([ "$dflt" = 1 ] && echo advised huge || echo left alone), the program's nohuge kept, small left alone"
}

# one PROG NAME DEFAULT [env…]: run, check, checkpoint, inspect, restart, check again
one() {
	local prog=$1 name=$2 dflt=$3
	shift 3
	: >"$name.out"
	env "$@" "$BIN/ckpt" run --dir "$T/ck-$name" -- "$prog" >"$name.out" 2>"$name.err" &
	local P=$!
	wait_lines "$name.out" 5 || fail "$name: never ready: $(cat "$name.err")"
	check_run "$name" $P "$name.out" "$dflt"
	local img
	img=$("$BIN/ckpt" now $P) || fail "$name: ckpt now failed"
	kill -9 $P
	wait $P 2>/dev/null
	local ins
	ins=$("$BIN/ckpt" inspect "$img") || fail "$name: ckpt inspect failed"
	# (the kernel merges neighbouring mappings with the same advice)
	local bigline=$(region_line "$ins" "$(addr "$name.out" big)") nhline=$(region_line "$ins" "$(addr "$name.out" nohuge)")
	[ -n "$bigline" ] && [ -n "$nhline" ] || fail "$name: ckpt inspect lists no region holding 'big' or 'nohuge'"
	if [ "$dflt" = 1 ]; then
		[[ "$bigline" == *" huge"* ]] || fail "$name: ckpt inspect does not show 'big' as huge: $bigline"
	else
		[[ "$bigline" != *"huge"* ]] || fail "$name: ckpt inspect shows 'big' with advice: $bigline"
	fi
	[[ "$nhline" == *" nohuge"* ]] || fail "$name: ckpt inspect does not show 'nohuge': $nhline"
	pass "$name: ckpt inspect shows the advice"

	# restarted: the same advice, the same bytes
	"$BIN/ckpt" restart "$img" >>"$name.out" 2>>"$name.err" &
	local R=$!
	wait_lines "$name.out" 6 || fail "$name: the restarted program never came back: $(cat "$name.err")"
	[ "$(tail -1 "$name.out")" = restarted ] || fail "$name: after the restart: $(tail -1 "$name.out")"
	kill -HUP $R
	wait_lines "$name.out" 7 || fail "$name: no verification after the restart"
	[ "$(tail -1 "$name.out")" = "verify ok" ] || fail "$name: after the restart: $(tail -1 "$name.out")"
	check_run "$name, restarted" $R "$name.out" "$dflt"
	kill -TERM $R
	wait $R
	local rc=$?
	[ $rc -eq 0 ] || fail "$name: the restarted program exited $rc"
}

one "$PROGS/hugemem" preloaded 1
one "$PROGS/hugemem" preloaded-off 0 KITE_CKPT_HUGE_PAGES=0
one "$PROGS/hugemem.static" static 1
# a user's own choice for malloc stands
: >tun.out
GLIBC_TUNABLES=glibc.malloc.hugetlb=0 "$BIN/ckpt" run --dir "$T/ck-tun" -- "$PROGS/hugemem" >tun.out 2>tun.err &
P=$!
wait_lines tun.out 5 || fail "tunables: never ready"
! has $P "$(addr tun.out heap)" hg || fail "GLIBC_TUNABLES=glibc.malloc.hugetlb=0 was overridden"
has $P "$(addr tun.out big)" hg || fail "with the user's malloc tunable, the program's own mmap lost its advice"
kill -9 $P
wait $P 2>/dev/null
pass "a user's GLIBC_TUNABLES malloc choice stands"
echo "PASS"
