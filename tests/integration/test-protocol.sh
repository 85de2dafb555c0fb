#!/bin/bash
# Nothing a peer sends can crash the schedd: garbage, bad magic, wrong
# version, unknown types, oversized frames, wrong body types, bodies not
# in normal form, half frames, floods of connections.  Each gets an
# ERROR reply (where a reply makes sense) and the schedd keeps serving.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "max_message_size: 1M" "client_timeout: 2s" "max_connections: 20"
cd "$TMP"
printf 'executable: /bin/true\n' >job.yaml
submit job.yaml >/dev/null

python3 - "$SCHEDD_ADDR" "$TMP/s/schedd.sock" >probe.out 2>&1 <<'PY'
import socket, struct, sys, time
host, port = sys.argv[1].rsplit(":", 1)
unix_path = sys.argv[2]

def connect(kind):
    if kind == "tcp":
        s = socket.create_connection((host, int(port)), timeout=5)
    else:
        s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(unix_path)
    return s

def recv_frame(s):
    hdr = b""
    while len(hdr) < 12:
        c = s.recv(12 - len(hdr))
        if not c: return None
        hdr += c
    magic, ver, typ, length = struct.unpack(">IHHI", hdr)
    body = b""
    while len(body) < length:
        c = s.recv(length - len(body))
        if not c: break
        body += c
    return typ, body

def frame(typ, body, magic=0x4B495445, ver=1, length=None):
    return struct.pack(">IHHI", magic, ver, typ, len(body) if length is None else length) + body

def probe(name, kind, data):
    s = connect(kind)
    hello = recv_frame(s)
    assert hello and hello[0] == 2, "no HELLO"
    s.sendall(data)
    reply = recv_frame(s)
    closed = False
    try:
        closed = s.recv(1) == b""
    except socket.timeout:
        closed = False
    s.close()
    kind_reply = "ERROR" if reply and reply[0] == 1 else repr(reply and reply[0])
    # ERROR is (us): a u32 code, then the NUL-terminated message.
    text = reply[1][4:].split(b"\0")[0].decode("utf-8", "replace") if reply else ""
    print(f"{name}: {kind_reply} closed={closed} :: {text}")

# A QUERY body "(sa(xx)isbb)" with all-defaults is easy to write by hand:
# strings "" then an empty array, i32, "" and two bools, with framing.
for kind in ("unix", "tcp"):
    probe(f"{kind} garbage", kind, b"hello, are you a web server?\r\n\r\n")
    probe(f"{kind} bad version", kind, frame(12, b"", ver=99))
    probe(f"{kind} unknown type", kind, frame(999, b""))
    probe(f"{kind} oversized", kind, frame(12, b"", length=50 * 1024 * 1024))
probe("unix wrong body type", "unix", frame(12, b"\x01\x02\x03"))
# GVariant bodies written by hand: a HELLO (ssay) = ("a", "b", []), and
# a QUERY (sa(xx)isbb) with every field empty or zero.
hello_body = b"a\x00b\x00\x04\x02"
query_body = b"\x00" * 15 + bytes([13, 8, 1])
probe("unix reply type from client", "unix", frame(2, hello_body))
probe("unix valid query", "unix", frame(12, query_body))
probe("tcp request before auth", "tcp", frame(12, query_body))
probe("tcp bad token", "tcp", frame(3, b"kite1.x.y.z\x00"))
probe("tcp daemon proof without the key", "tcp", frame(4, b"startd\x00" + b"\x00" * 32 + b"\x07"))

# Half a frame, then silence: the idle timeout closes it.
s = connect("unix"); recv_frame(s); s.sendall(frame(12, b"", length=100)[:8])
t = time.time(); r = recv_frame(s); print(f"half frame: closed after {time.time()-t:.1f}s reply={'ERROR' if r and r[0]==1 else r}")
# A flood of connections over the limit.
socks = []
refused = 0
for i in range(40):
    try:
        c = connect("unix"); f = recv_frame(c)
        if f and f[0] == 1: refused += 1
        socks.append(c)
    except OSError:
        refused += 1
print(f"flood: refused={refused > 0}")
for c in socks: c.close()
PY
cat probe.out | sed 's/^/       /'
for k in unix tcp; do
	check_contains "$k: garbage refused" "$k garbage: ERROR closed=True :: " "$(cat probe.out)"
	check_contains "$k: garbage explained" "not a Kite peer: bad magic" "$(grep "$k garbage" probe.out)"
	check_contains "$k: bad version" "protocol version 99 is not supported" "$(grep "$k bad version" probe.out)"
	check_contains "$k: unknown type" "unknown message type 999" "$(grep "$k unknown type" probe.out)"
	check_contains "$k: oversized frame" "over the limit of 1048576 bytes" "$(grep "$k oversized" probe.out)"
done
check_contains "wrong body type" "QUERY body is not a valid (sa(xx)isbb) value in normal form" "$(grep 'wrong body' probe.out)"
check_contains "client sending a HELLO" "unexpected HELLO from a client" "$(cat probe.out)"
check_contains "a hand-made valid query is answered" "unix valid query: 13 closed=False" "$(cat probe.out)"
check_contains "request before auth" "QUERY before authentication" "$(cat probe.out)"
check_contains "bad token" "tcp bad token: ERROR closed=True :: authentication failed: malformed token" "$(cat probe.out)"
check_contains "daemon without key" "does not hold this pool's key" "$(cat probe.out)"
check_contains "half frame closed by idle timeout" "half frame: closed after" "$(cat probe.out)"
check_contains "connection flood refused" "flood: refused=True" "$(cat probe.out)"

# After all that, the schedd still works.
kill -0 "$SCHEDD_PID" 2>/dev/null && pass "schedd still running" || fail "schedd still running"
check_eq "schedd still answers" "Total: 1 jobs; 1 idle, 0 running, 0 held, 0 suspended" "$(q | tail -1)"
check_contains "KITE_DEBUG=wire prints messages" "kite-wire" "$(KITE_DEBUG=wire q 2>&1 >/dev/null)"
check_contains "KITE_DEBUG=wire shows the body" "QUERY (" "$(KITE_DEBUG=wire q 2>&1 >/dev/null)"

finish
