#!/bin/bash
# ckpt_server: a download cut off in the middle of an image.  The server
# dies (KITE_FAULT=get:3: on its third CKPT_GET, earlier replies already
# on their way) while `ckpt restart` fetches a 48 MiB image: the restart
# is refused with a message naming the image and how far the download
# got, nothing of the program runs, and once the server is back the same
# restart brings the program back with its memory intact.  `ckpt download
# -o FILE` cut off the same way leaves FILE as it was.  An image whose own
# checksums fail (checked during the download) is refused naming the record.
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
. "$(dirname "$0")/ckpt-server-lib.sh"
[ -x "$BIN/ckpt_server" ] || { echo "SKIP: ckpt_server not built"; exit 77; }
cd "$T" || exit 1
start_server

checkpointed_bigmem 48
[ "$size" -gt $((48 << 20)) ] || fail "the image holds $size bytes, expected more than 48 MiB"

# 1. the server dies mid-image under `ckpt restart`
stop_server
KITE_FAULT=get:3 start_server
: >err.txt
"$BIN/ckpt" restart ck >>out.txt 2>restart.err
rc=$?
check_eq "ckpt restart exit status when the download is cut off" 1 "$rc"
wait "$SRV_PID"
check_eq "the server's exit status (KITE_FAULT=get:3)" 70 "$?"
grep -q "KITE_FAULT=get:3: dying on this CKPT_GET" "$T/srv/log" || fail "the server did not die on the fault"
msg=$(cat restart.err)
re="^ckpt restart: refusing to restart server:$SRV/$id: image $id: the download stopped after ([0-9]+) of $chunks chunks \(([0-9]+) of $size bytes\): ($SRV closed the connection|(send to|receive from) $SRV: (Connection reset by peer|Broken pipe))$"
[[ "$msg" =~ $re ]] || fail "unexpected message: $msg"
got_chunks=${BASH_REMATCH[1]} got_bytes=${BASH_REMATCH[2]}
# two replies (of about 2 MiB, ckpt-store.c's GET_BYTES) arrived before
# the server died
[ "$got_bytes" -ge $((2 << 20)) ] && [ "$got_bytes" -le $((6 << 20)) ] && [ "$got_chunks" -lt "$chunks" ] ||
	fail "the download stopped after $got_chunks chunks, $got_bytes bytes: expected two replies"
grep -q restarted_ns err.txt && fail "the program was restarted from half an image"
check_eq "programs left running from the cut-off restart" "" "$(for p in $(pgrep -x bigmem); do readlink "/proc/$p/cwd"; done | grep "^$T")"
pass "cut off after $got_chunks of $chunks chunks: restart refused ($(echo "$msg" | cut -c1-110)…), nothing runs"

# 2. the same for `ckpt download -o FILE`: FILE keeps what it had
echo "previous contents" >kept
start_server
"$BIN/ckpt" download --caps ck/server.caps -o whole.img || fail "download failed"
stop_server
KITE_FAULT=get:3 start_server
"$BIN/ckpt" download --caps ck/server.caps -o kept 2>dl.err && fail "a cut-off download succeeded"
wait "$SRV_PID"
grep -q "the download stopped after" dl.err || fail "download: unexpected message: $(cat dl.err)"
check_eq "FILE after a cut-off download" "previous contents" "$(cat kept)"
check_eq "temporary files left beside FILE" "" "$(ls kept.* 2>/dev/null)"
pass "a cut-off \`ckpt download -o FILE\` leaves FILE as it was and no temporary file"

# 3. the server back: the same restart works, memory intact
start_server
restart_running ck
check_memory
kill -TERM $R
wait $R 2>/dev/null
cmp -s whole.img <("$BIN/ckpt" download --caps ck/server.caps) || fail "the image changed"
pass "with the server back, the same restart brings the program back with its memory intact"

# 4. the image's own checksums are checked on the way in: an image
#    stored with a flipped page byte (its chunks' hashes made from the
#    flipped bytes, so the server and the download find nothing wrong)
#    is refused by `ckpt restart`, naming the record
cp whole.img bad.img
off=$((size / 2))
b=$(od -An -tu1 -j $off -N1 bad.img | tr -d ' ')
printf "$(printf '\\%03o' $(((b ^ 0x5a) & 255)))" | dd of=bad.img bs=1 seek=$off conv=notrunc status=none
cmp -s whole.img bad.img && fail "the byte was not flipped"
"$BIN/ckpt" alloc --server "$SRV" --owner carol bad.caps >/dev/null || fail "alloc failed"
"$BIN/ckpt" upload --caps bad.caps <bad.img >/dev/null || fail "upload of the flipped image failed"
out=$("$BIN/ckpt" restart --caps bad.caps 2>&1) && fail "an image with a flipped page byte restarted"
[[ "$out" == "ckpt restart: refusing to restart server:$SRV/"*": PAGES record at offset "*": data checksum mismatch (stored "*"): the image is corrupt" ]] ||
	fail "flipped page byte: unexpected message: $out"
pass "a page byte flipped before upload: restart refused ($(echo "$out" | sed 's/.*: PAGES/PAGES/' | cut -c1-80))"
stop_server
