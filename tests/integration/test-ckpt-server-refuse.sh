#!/bin/bash
# ckpt_server refuses, each with its own message: forged, malformed and
# wrong-kind capabilities, expired leases, deleted allocations, over-quota
# and over-size uploads (earlier images untouched), users allocating for
# others.  Corruption: bytes flipped in stored chunks and in manifests are
# detected on every read, and `ckpt restart` refuses naming image and
# chunk; once repaired, the image restarts again.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
. "$(dirname "$0")/ckpt-server-lib.sh"
[ -x "$BIN/ckpt_server" ] || { echo "SKIP: ckpt_server not built"; exit 77; }
cd "$T" || exit 1
start_server "owner_quota: 6M" "max_image_size: 8M" "gc_interval: 1h"

expect_fail() { # NAME NEEDLE COMMAND…
	local name=$1 needle=$2
	shift 2
	local out
	out=$("$@" 2>&1) && fail "$name: succeeded: $out"
	[[ "$out" == *"$needle"* ]] || fail "$name: expected '$needle' in: $out"
	pass "$name: $(echo "$out" | head -1 | cut -c1-150)"
}

head -c 1000000 /dev/urandom >one.bin
head -c 3000000 /dev/urandom >three.bin
head -c 7000000 /dev/urandom >seven.bin
head -c 9000000 /dev/urandom >nine.bin
"$BIN/ckpt" alloc --server "$SRV" --owner alice a.caps >/dev/null || fail "alloc failed"
"$BIN/ckpt" upload --caps a.caps <one.bin >/dev/null || fail "upload failed"

# capabilities
read_cap=$(awk '$1 == "read" {print $2}' a.caps)
forged=${read_cap:0:20}$([ "${read_cap:20:1}" = 0 ] && echo 1 || echo 0)${read_cap:21}
KITE_CKPT_READ_CAP=$forged expect_fail "forged read capability" "no allocation has this read capability" \
	"$BIN/ckpt" download --server "$SRV" -o x
KITE_CKPT_READ_CAP=kite-r-1234 expect_fail "malformed capability" "not a capability" \
	"$BIN/ckpt" download --server "$SRV" -o x
KITE_CKPT_READ_CAP=$(awk '$1 == "write" {print $2}' a.caps) expect_fail "write capability used to read" \
	"a write capability cannot read an image: that takes the read capability" "$BIN/ckpt" download --server "$SRV" -o x
grep -v '^write' a.caps | sed "s/^manage/write/" >wrong.caps
chmod 600 wrong.caps
expect_fail "manage capability used to write" "a manage capability cannot write an image" \
	"$BIN/ckpt" upload --caps wrong.caps <one.bin
chmod 644 wrong.caps
expect_fail "caps file readable by others" "others could read it" "$BIN/ckpt" download --caps wrong.caps -o x

# limits: earlier image untouched
expect_fail "over the per-owner quota" "over quota: alice would use" "$BIN/ckpt" upload --caps a.caps <seven.bin
# what the refused upload stored is collected at once, so 3 MB fit again
for i in $(seq 1 50); do
	"$BIN/ckpt" upload --caps a.caps <three.bin >/dev/null 2>&1 && break
	[ $i = 50 ] && fail "3 MB upload within quota failed: $(tail -3 "$T/srv/log")"
	sleep 0.1
done
"$BIN/ckpt" alloc --server "$SRV" --owner alice b.caps >/dev/null
"$BIN/ckpt" upload --caps b.caps <three.bin >/dev/null || fail "deduplicated upload refused"
expect_fail "max_image_size" "max_image_size" "$BIN/ckpt" upload --caps b.caps <nine.bin
"$BIN/ckpt" download --caps a.caps -o back || fail "download after refusals failed"
cmp -s back three.bin || fail "the committed image changed after refused uploads"
pass "earlier image intact after the refusals"
grep -q "config key owner_quota" "$T/srv/log" || fail "quota refusal does not name its config key"

# leases
"$BIN/ckpt" alloc --server "$SRV" --owner alice --lease 1s c.caps >/dev/null
"$BIN/ckpt" upload --caps c.caps <one.bin >/dev/null || fail "upload to the short lease failed"
sleep 1.5
expect_fail "expired lease" "its lease expired at" "$BIN/ckpt" download --caps c.caps -o x
expect_fail "renewing an expired lease" "its lease expired at" "$BIN/ckpt" lease --caps c.caps renew
"$BIN/ckpt" lease --caps b.caps renew --lease 2d | grep -q "^state committed" || fail "renew failed"
"$BIN/ckpt" lease --caps b.caps delete >/dev/null || fail "delete failed"
expect_fail "deleted allocation" "was deleted" "$BIN/ckpt" download --caps b.caps -o x

# users: tokens, only for themselves
tok=$("$BIN/ckpt_server" --config "$T/srv/server.yaml" --state-dir "$T/srv" --make-token alice)
(
	unset KITE_POOL_KEY_FILE
	export KITE_TOKEN=$tok
	expect_fail "user allocating for another" "alice may allocate only for themselves, not for bob" \
		"$BIN/ckpt" alloc --server "$SRV" --owner bob x.caps
	"$BIN/ckpt" alloc --server "$SRV" u.caps >/dev/null || fail "user alloc failed"
	"$BIN/ckpt" lease --caps u.caps stat | grep -q "^owner alice" || fail "user's allocation not owned by alice"
	pass "a user with a token allocates for themselves"
	KITE_TOKEN=kite1.YWxpY2U.9999999999.00 expect_fail "bad token" "authentication failed" \
		"$BIN/ckpt" alloc --server "$SRV" y.caps
) || exit 1

# corruption: a counter image, then bytes flipped in its chunks and manifest
"$BIN/ckpt" run --server "$SRV" --owner bob --dir "$T/ck" -- "$PROGS/counter" 200 10 >out.txt 2>err.txt &
P=$!
wait_lines out.txt 20
"$BIN/ckpt" now $P >/dev/null || fail "ckpt now failed: $(cat ck/status)"
kill -9 $P
wait $P 2>/dev/null
id=$(awk '$1 == "id" {print $2}' ck/server.caps)
bob=$(sqlite3 "$T/srv/ckpt.db" "SELECT id FROM owners WHERE name = 'bob'")
packs=$(ls "$T/srv/packs/$bob"/*.pack)
[ "$(echo "$packs" | wc -l)" = 1 ] || fail "expected one pack for bob: $packs"
size=$(stat -c %s "$packs")
flip() { # FILE OFFSET
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $(((b ^ 0x5a) & 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# the first chunk's header field by field (magic, length, CRC, reserved,
# hash), then 12 bytes anywhere
for off in 0 4 8 12 16 31 $(for i in $(seq 1 12); do echo $(( (RANDOM * 32768 + RANDOM) % size )); done); do
	flip "$packs" $off
	out=$("$BIN/ckpt" restart ck 2>&1) && fail "restart succeeded with byte $off of the pack flipped"
	[[ "$out" == *"refusing to restart server:$SRV/$id: image $id: chunk "*" is corrupt"* ]] ||
		fail "flip at $off: unexpected message: $out"
	flip "$packs" $off
done
pass "every field of a chunk's header and 12 bytes anywhere flipped in stored chunks: each detected, restart refused naming image and chunk"
echo "  e.g. $out" | cut -c1-200
man=$T/srv/manifests/$id.manifest
msize=$(stat -c %s "$man")
for off in 0 8 24 $(for i in $(seq 1 6); do echo $(( RANDOM % msize )); done); do # magic, version, count, anywhere
	flip "$man" $off
	out=$("$BIN/ckpt" inspect ck 2>&1) && fail "inspect succeeded with byte $off of the manifest flipped"
	[[ "$out" == *"image $id: the manifest is corrupt"* ]] || fail "manifest flip at $off: unexpected message: $out"
	flip "$man" $off
done
pass "its magic, version and count and 6 bytes anywhere flipped in the manifest: each detected ($(echo "$out" | tail -1 | cut -c1-120))"
"$BIN/ckpt" restart ck >>out.txt 2>err.txt || fail "restart after repair failed: $(cat err.txt)"
tail -1 out.txt | grep -q "^ok: 200 steps" || fail "repaired image did not run to the end: $(tail -2 out.txt)"
pass "repaired, the image restarts and runs to the end"

# pool ckpt: the admin's view (pool key), a user's view (token), rm
ls=$("$BIN/pool" ckpt --ckpt-server "$SRV" ls) || fail "pool ckpt ls failed"
echo "$ls" | head -1 | grep -q "^ID  *OWNER  *STATE  *SIZE  *CHUNKS  *LEASE UNTIL" || fail "pool ckpt ls header: $ls"
echo "$ls" | grep -q "^$id  *bob  *committed " || fail "pool ckpt ls does not show bob's image: $ls"
[ "$(echo "$ls" | grep -c " alice ")" = 4 ] || fail "pool ckpt ls: expected 4 allocations of alice: $ls"
uls=$(KITE_POOL_KEY_FILE= KITE_TOKEN=$tok "$BIN/pool" ckpt --ckpt-server "$SRV" ls) || fail "user ls failed"
echo "$uls" | grep -q " bob " && fail "a user sees another owner's allocations: $uls"
[ "$(echo "$uls" | grep -c " alice ")" = 4 ] || fail "user ls: $uls"
KITE_POOL_KEY_FILE= KITE_TOKEN=$tok expect_fail "user removing by id" "only admins name allocations by id" \
	"$BIN/pool" ckpt --ckpt-server "$SRV" rm "$id"
[ "$("$BIN/pool" ckpt --ckpt-server "$SRV" rm "$id")" = "$id: deleted" ] || fail "pool ckpt rm failed"
expect_fail "restart of a removed image" "allocation $id was deleted" "$BIN/ckpt" restart ck
pass "pool ckpt ls lists allocations (all for the admin, their own for a user); pool ckpt rm removes one"
stop_server
exit 0
