#!/bin/bash
# ckpt_server crash safety: the server is killed with SIGKILL at random
# moments while uploads (new versions of three images that share most of
# their chunks) and collections run, 50 times.  After each restart every
# image reads back bit for bit as its last committed version or — if the
# commit landed just before the kill — the version in flight, never a
# mixture and never an uncommitted one; at the end, once the collector
# has run, the space used is exactly what committed images reference.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
. "$(dirname "$0")/ckpt-server-lib.sh"
[ -x "$BIN/ckpt_server" ] || { echo "SKIP: ckpt_server not built"; exit 77; }
cd "$T" || exit 1
ROUNDS=${ROUNDS:-50}
start_server "gc_interval: 0.3s" "compact_below: 100" "pack_size: 4M" "upload_timeout: 1s"

# versions: a 3 MB base with some 64 KiB blocks replaced in each
head -c 3145728 /dev/urandom >base
for v in $(seq 0 7); do
	cp base v$v
	for k in 1 2 3 4 5; do
		dd if=/dev/urandom of=v$v bs=65536 seek=$(( (v * 7 + k * 3) % 48 )) count=1 conv=notrunc status=none
	done
done
for a in 0 1 2; do
	"$BIN/ckpt" alloc --server "$SRV" --owner crash c$a.caps >/dev/null || fail "alloc failed"
	"$BIN/ckpt" upload --caps c$a.caps <v$a >/dev/null || fail "first upload failed"
	good[$a]=v$a
	flight[$a]=
done

verify() { # ROUND: every image is its committed or in-flight version
	local a got
	for a in 0 1 2; do
		"$BIN/ckpt" download --caps c$a.caps -o got 2>dl.err || fail "round $1: image $a unreadable: $(cat dl.err)"
		if cmp -s got "${good[$a]}"; then
			:
		elif [ -n "${flight[$a]}" ] && cmp -s got "${flight[$a]}"; then
			good[$a]=${flight[$a]}
		else
			fail "round $1: image $a is neither ${good[$a]} nor ${flight[$a]:-(none in flight)}"
		fi
		flight[$a]=
	done
}

for r in $(seq 1 "$ROUNDS"); do
	pids=()
	for a in 0 1 2; do
		v=v$(( RANDOM % 8 ))
		flight[$a]=$v
		"$BIN/ckpt" upload --caps c$a.caps <$v >/dev/null 2>&1 &
		pids+=($!)
	done
	sleep 0.0$(( RANDOM % 10 ))$(( RANDOM % 10 ))
	crash_server
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	start_server
	verify "$r"
done
pass "$ROUNDS kills during uploads and collections: every image read back as a committed version"

# leftover space: chunks of cut-short uploads and replaced versions go
for i in $(seq 1 100); do
	used=$(status_field used)
	live=$(status_field referenced)
	[ "$used" = "$live" ] && break
	sleep 0.1
done
[ "$used" = "$live" ] || fail "after the collector: $used bytes used, $live referenced"
[ "$live" -gt 3000000 ] && [ "$live" -lt 30000000 ] || fail "referenced $live bytes"
pass "leftover space reclaimed: $used bytes used = bytes referenced by committed images"
verify final
stop_server
exit 0
