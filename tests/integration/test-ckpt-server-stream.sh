#!/bin/bash
# ckpt_server: `ckpt restart` streams the image into the restorer (its
# head is downloaded and checked first, the memory arrives while the
# restorer restores, docs/ckpt-server.md "Restarting from a server").
# Each check is made where the bytes land, and nothing of the program runs
# before the last byte is checked:
#  1. a chunk corrupted late in the stream (KITE_FAULT=flip:N in the
#     server: a byte flipped after the server's own check, as a bad link
#     would) is refused naming the image and the chunk, exit status 1;
#     the program's stdout file (open for writing: its contents are in
#     the image) is left as it was;
#  2. the same for a chunk of the head (checked by `ckpt restart` itself);
#  3. the server dying while the memory streams: the message says how
#     far the download got, exit status 1, no program;
#  5. an incremental image (uploaded by hand) is refused: its parent is
#     not on the server;
#  6. a chunk corrupt in the server's pack, late in the stream: the
#     server's refusal passed on by the restorer;
#  7. the server stopping mid-stream: the restorer gives up after
#     KITE_CKPT_TIMEOUT saying how far it got;
#  4. the restarted program runs with its memory intact, as anonymous
#     memory (no mapping of a downloaded image file), its stdout file
#     restored to the checkpoint's contents,
#     and no process is left from the restart (the downloader is gone).
set -u
. "$(dirname "$0")/../programs/ckpt-test-lib.sh"
. "$(dirname "$0")/ckpt-server-lib.sh"
[ -x "$BIN/ckpt_server" ] || { echo "SKIP: ckpt_server not built"; exit 77; }
cd "$T" || exit 1
start_server
no_program() { # what a refused restart must leave: no bigmem of ours
	check_eq "$1: programs left running" "" "$(for p in $(pgrep -x bigmem); do readlink "/proc/$p/cwd"; done | grep "^$T")"
	grep -q restarted_ns err.txt && fail "$1: the program ran"
	return 0
}

# bigmem 24: a 24 MiB image, its memory checked by the program itself
checkpointed_bigmem 24
"$BIN/ckpt" download --caps ck/server.caps -o whole.img || fail "download failed"
[ "$chunks" -gt 6000 ] || fail "the image has $chunks chunks, expected a page a chunk (> 6000)"
# the last chunks are pages of the last PAGES record, far past the head
late=$((chunks - 20))
# bigmem's stdout is a file open for writing: its contents at the
# checkpoint are in the image, restored only by a restart that happens
echo "written after the checkpoint" >>out.txt

# flipped N WHAT: the server flips a byte of chunk N on its way out; the
# restart must be refused naming that chunk, exit status 1, nothing run
flipped() {
	stop_server
	KITE_FAULT=flip:$1 start_server
	: >err.txt
	"$BIN/ckpt" restart ck >>out.txt 2>restart.err
	check_eq "exit status of a restart with a corrupt $2" 1 "$?"
	local re="^ckpt restart: refusing to restart server:$SRV/$id: image $id: chunk $1 \([0-9a-f]{32}\) failed its checksum on arrival$"
	[[ "$(cat restart.err)" =~ $re ]] || fail "corrupt $2: unexpected message: $(cat restart.err)"
	flipped_msg=$(cat restart.err)
	no_program "corrupt $2"
}

# 1. a late chunk flipped on its way out
flipped $late "late chunk"
late_msg=$flipped_msg
grep -q "^written after the checkpoint" out.txt || fail "a refused restart restored the program's stdout file"
pass "chunk $late of $chunks flipped in the stream: refused naming it ($(cut -c1-60 restart.err)…), nothing runs"

# 2. a chunk of the head flipped: `ckpt restart` itself refuses it
flipped 3 "head chunk"
pass "chunk 3 (the head) flipped: refused naming it, nothing runs"

# 3. the server dies while the memory streams: on its 8th CKPT_GET,
#    past the head (the first reply) and the first GETs sent ahead
stop_server
KITE_FAULT=get:8 start_server
: >err.txt
"$BIN/ckpt" restart ck >>out.txt 2>restart.err
check_eq "exit status of a restart whose server died" 1 "$?"
wait "$SRV_PID"
check_eq "the server's exit status (KITE_FAULT=get:8)" 70 "$?"
msg=$(cat restart.err)
re="^ckpt restart: refusing to restart server:$SRV/$id: image $id: the download stopped after ([0-9]+) of $chunks chunks \(([0-9]+) of [0-9]+ bytes\): ($SRV closed the connection|(send to|receive from) $SRV: (Connection reset by peer|Broken pipe))$"
[[ "$msg" =~ $re ]] || fail "server died: unexpected message: $msg"
got_bytes=${BASH_REMATCH[2]}
# more than the head (the first reply, about 2 MiB) arrived, at most the
# seven replies before the fatal GET (the server dies with some of them
# still unsent)
[ "$got_bytes" -gt $((2 << 20)) ] && [ "$got_bytes" -le $((15 << 20)) ] ||
	fail "the download stopped after $got_bytes bytes: expected more than the head, at most seven replies"
no_program "server died"
grep -q "^written after the checkpoint" out.txt || fail "a refused restart restored the program's stdout file"
pass "the server died mid-stream: refused ($(echo "$msg" | cut -c1-90)…), nothing runs"

# 7. the server stops answering mid-stream (KITE_FAULT=stop:8: it stops
#    itself on its 8th CKPT_GET, connections open): the restorer, reading
#    the replies itself, gives up after KITE_CKPT_TIMEOUT (2 s here,
#    60 by default) saying how far the image got; nothing runs
KITE_FAULT=stop:8 start_server
bad=$(KITE_CKPT_TIMEOUT=soon "$BIN/ckpt" lease --caps ck/server.caps stat 2>&1 >/dev/null)
check_eq "a KITE_CKPT_TIMEOUT that is not a number" \
	"ckpt: KITE_CKPT_TIMEOUT=soon is not a number of seconds from 1 to 86400; waiting 60 s" "$bad"
: >err.txt
t0=$SECONDS
KITE_CKPT_TIMEOUT=2 timeout 30 "$BIN/ckpt" restart ck >>out.txt 2>restart.err
check_eq "exit status of a restart whose server stopped answering" 1 "$?"
took=$((SECONDS - t0))
re="^ckpt restart: refusing to restart server:$SRV/$id: image $id: the download stopped after [0-9]+ of $chunks chunks \([0-9]+ of [0-9]+ bytes\): receive from $SRV: timed out after 2 s$"
[[ "$(cat restart.err)" =~ $re ]] || fail "server stopped: unexpected message: $(cat restart.err)"
[ "$took" -ge 1 ] && [ "$took" -le 10 ] || fail "server stopped: the restart gave up after $took s (KITE_CKPT_TIMEOUT=2)"
no_program "server stopped"
grep -q "^written after the checkpoint" out.txt || fail "a refused restart restored the program's stdout file"
crash_server # (stopped: SIGKILL still ends it)
pass "the server stopped mid-stream: refused after $took s ($(sed 's/.*: receive/receive/' restart.err)), nothing runs"

# 5 (before 4, which ends the test). an incremental image uploaded by
#    hand needs a parent no server holds: refused before anything runs
"$BIN/ckpt" run --dir "$T/inc" -- "$PROGS/bigmem" 24 1 >inc-out.txt 2>inc-err.txt &
Q=$!
wait_lines inc-out.txt 1
"$BIN/ckpt" now $Q >/dev/null || fail "first local checkpoint: $(cat inc/status)"
kill -INT $Q
wait_lines inc-out.txt 2
img2=$("$BIN/ckpt" now $Q) || fail "second local checkpoint: $(cat inc/status)"
kill -9 $Q
wait $Q 2>/dev/null
"$BIN/ckpt" inspect --summary "$img2" | grep -q "incremental: parent" || fail "the second local image is not incremental"
start_server # (it died in 3)
"$BIN/ckpt" alloc --server "$SRV" --owner carol inc.caps >/dev/null || fail "alloc failed"
"$BIN/ckpt" upload --caps inc.caps <"$img2" >/dev/null || fail "upload of the incremental image failed"
inc_id=$(awk '$1 == "id" {print $2}' inc.caps)
out=$("$BIN/ckpt" restart --caps inc.caps 2>&1)
check_eq "exit status of a restart of an incremental image from a server" 1 "$?"
check_eq "refusal of an incremental image from a server" \
	"ckpt restart: refusing to restart server:$SRV/$inc_id: an incremental image (its parent is image 1) needs its parent, which a checkpoint server does not hold; upload a full image" "$out"
pass "an incremental image on a server: refused (needs its parent)"

# 6. a chunk corrupted where the server stores it, late in the stream:
#    the server refuses to send it (an ERROR where its data was due) and
#    the restorer, reading the replies itself, passes the refusal on
hash=$(sed -n 's/.* chunk [0-9]* (\([0-9a-f]\{32\}\)) failed its checksum.*/\1/p' <<<"$late_msg")
[ -n "$hash" ] || fail "no chunk name in: $late_msg"
owner=$(sqlite3 "$T/srv/ckpt.db" "SELECT id FROM owners WHERE name = '$(id -un)'")
# the pack holding it, and the middle of its data (a chunk near the end
# of the image may be a few bytes long: a fixed offset into it once
# corrupted the next chunk instead), the packs walked chunk by chunk (a
# header — magic, length, CRC, reserved, hash — then the data: the same
# 16 bytes could also lie in some chunk's data)
read -r pack flip_at < <(python3 - "$T/srv/packs/$owner" "$hash" <<'PY'
import os, struct, sys
want = bytes.fromhex(sys.argv[2])
for name in sorted(os.listdir(sys.argv[1])):
    path = os.path.join(sys.argv[1], name)
    data, at = open(path, "rb").read(), 0
    while at + 32 <= len(data):
        magic, length = struct.unpack_from("<II", data, at)
        if magic != 0x3148434b:
            break
        if data[at + 16:at + 32] == want:
            print(path, at + 32 + length // 2)  # the middle of its data
            sys.exit(0)
        at += 32 + length
PY
)
[ -n "${pack:-}" ] || fail "chunk $hash is in none of the packs"
flip_byte() { # FILE OFFSET
	python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x5a]))' "$1" "$2"
}
flip_byte "$pack" "$flip_at"
: >err.txt
"$BIN/ckpt" restart ck >>out.txt 2>restart.err
check_eq "exit status of a restart with a chunk corrupt in the store" 1 "$?"
re="^ckpt restart: refusing to restart server:$SRV/$id: image $id: chunk [0-9]+ \($hash\) is corrupt: its stored bytes fail their checksum; it was not sent$"
[[ "$(cat restart.err)" =~ $re ]] || fail "stored corruption: unexpected message (chunk $hash expected): $(cat restart.err)"
no_program "stored corruption"
grep -q "^written after the checkpoint" out.txt || fail "a refused restart restored the program's stdout file"
flip_byte "$pack" "$flip_at" # repaired for 4
pass "a late chunk corrupt in the store: the server's refusal passed on ($(cut -c1-70 restart.err)…), nothing runs"

# 4. the restart itself: memory intact, anonymous, nothing left behind
restart_running ck
grep -q "^written after the checkpoint" out.txt && fail "the restart did not restore the program's stdout file"
check_eq "children of the restarted program (the downloader must be gone)" "" "$(cat /proc/$R/task/*/children 2>/dev/null | tr -d ' ')"
grep -q "kite-image\|kite-stream" /proc/$R/maps && fail "the restarted program maps a downloaded image: $(grep kite- /proc/$R/maps)"
check_memory
kill -TERM $R
wait $R 2>/dev/null
cmp -s whole.img <("$BIN/ckpt" download --caps ck/server.caps) || fail "the image changed"
pass "streamed restart: memory intact, anonymous, no downloader left"
stop_server
