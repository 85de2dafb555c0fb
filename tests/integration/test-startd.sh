#!/bin/bash
# The startd end to end: a real schedd and real startds on loopback in a
# temporary directory, owner activity given by an activity file, and
# thresholds of seconds.  Checks what an administrator would look at
# with `pool status`: slots appear, are Owner while the owner works,
# Unclaimed once the machine has been idle long enough and Owner again
# the moment the owner is back; a startd without the pool's key is
# refused and never listed; a dead startd disappears when its ads
# expire, a stopped one at once.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s"
cd "$TMP"

# start_startd and states come from lib.sh.

listed() { pool status 2>/dev/null | grep -q "@$1 "; }
not_listed() { ! pool status 2>/dev/null | grep -q "@$1 "; }

# ---- the command line ----
out=$(startd --help 2>&1); rc=$?
check_status "startd --help" 0 $rc
check_contains "startd --help names --schedd" "--schedd" "$out"
out=$(startd --help-config); rc=$?
check_status "startd --help-config" 0 $rc
check_contains "--help-config lists start_idle_time with Condor's default" '| `start_idle_time` | duration | `15m` |' "$out"
mkdir -p bad-config && echo "slot: 2" >bad-config/startd.yaml
out=$(startd --config bad-config/startd.yaml --state-dir bad-config 2>&1); rc=$?
check_status "a misspelt key stops the startd" 2 $rc
check_eq "the misspelt key is named with a suggestion" \
	"startd: bad-config/startd.yaml:1:1: unknown key \`slot\` (did you mean \`slots\`?)" "$out"
mkdir -p badname && cp s/pool.key badname/ && echo 'name: "ws 1"' >badname/startd.yaml
out=$(startd --config badname/startd.yaml --state-dir badname 2>&1); rc=$?
check_status "a machine name with a space is refused" 1 $rc
check_contains "and says what a name may hold" 'machine name "ws 1" must be at most 200 bytes without spaces' "$out"
out=$(startd --state-dir "$TMP/nokey" --schedd "$SCHEDD_ADDR" 2>&1); rc=$?
check_status "a startd without a pool key does not start" 1 $rc
check_contains "and says what to copy" "copy the schedd's pool.key here" "$out"

# ---- owner activity and the policy ----
# A long advertise interval, so that prompt changes in `pool status`
# prove that state changes are advertised at once.
ADVERTISE=4s start_startd ws1 "slots: 2"
WS1_PID=$STARTD_PID
# The owner is at work: the file is touched every 0.2 s.
( while :; do touch "$TMP/ws1/activity"; sleep 0.2; done ) &
TOUCHER=$!
PIDS+=("$TOUCHER")
if wait_for 10 listed ws1; then pass "both slots of ws1 appear"; else fail "both slots of ws1 appear" "$(cat ws1/startd.log)"; fi
check_eq "two slots, named as Condor names them" "slot1@ws1 slot2@ws1" \
	"$(pool status | awk '/@ws1 /{print $1}' | xargs)"
check_eq "slots are Owner while the owner works" "Owner Owner" "$(states ws1)"
sleep 3 # longer than start_idle_time, with the owner still active
check_eq "and stay Owner past start_idle_time while the file is touched" "Owner Owner" "$(states ws1)"

kill "$TOUCHER"; wait "$TOUCHER" 2>/dev/null
idle_from=$(date +%s.%N)
if wait_for 10 states_are ws1 "Unclaimed Unclaimed"; then
	pass "slots become Unclaimed once the machine is idle"
else
	fail "slots become Unclaimed once the machine is idle" "$(pool status; tail ws1/startd.log)"
fi
waited=$(echo "$(date +%s.%N) - $idle_from" | bc)
if [ "$(echo "$waited >= 1.5" | bc)" = 1 ]; then pass "not before start_idle_time (${waited}s)"; else fail "not before start_idle_time" "became Unclaimed after ${waited}s"; fi
out=$(pool status)
check_contains "pool status header" "Name                     OpSys  Arch    State      Activity     LoadAv Mem     ActvtyTime" "$out"
check_contains "a slot row" "LINUX  X86_64  Unclaimed  Idle" "$out"
check_contains "per-state totals" "           Total     2     0       0         2       0          0" "$out"
check_contains "totals by platform" "    X86_64/LINUX     2     0       0         2       0          0" "$out"
check_contains "the transition is logged with its reason" \
	"slot1@ws1: Owner/Idle -> Unclaimed/Idle: START is no longer false" "$(cat ws1/startd.log)"

touch ws1/activity
back_at=$(date +%s.%N)
if wait_for 5 states_are ws1 "Owner Owner"; then pass "Owner again when the owner is back"; else fail "Owner again when the owner is back" "$(pool status)"; fi
took=$(echo "$(date +%s.%N) - $back_at" | bc)
if [ "$(echo "$took < 1.5" | bc)" = 1 ]; then pass "at once, not at the next advertisement (${took}s)"; else fail "at once" "took ${took}s"; fi

out=$(pool status -l slot2@ws1)
check_contains "pool status -l shows KeyboardIdle" "KeyboardIdle = " "$out"
check_contains "pool status -l shows Memory" "Memory = " "$out"
check_contains "pool status -l shows Cpus" "Cpus = " "$out"
check_contains "pool status -l shows Arch" 'Arch = "X86_64"' "$out"
check_contains "pool status -l shows the configured threshold" "StartIdleTime = 2" "$out"
check_contains "pool status -l shows who advertised" 'AuthenticatedIdentity = "daemon:startd@ws1"' "$out"
check_eq "pool status -l NAME shows one slot" "1" "$(echo "$out" | grep -c '^Name = ')"
out=$(pool status -l ws1 | grep -c '^Name = ')
check_eq "pool status -l MACHINE shows its slots" "2" "$out"
out=$(pool status nosuch 2>&1); rc=$?
check_status "pool status of an unknown machine" 1 $rc
check_eq "says so" "pool: no machine or slot named nosuch in the pool" "$out"

out=$(pool status --json)
check_eq "pool status --json" "2 slot1@ws1 Owner True True" "$(echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d), d[0]["Name"], d[0]["State"], isinstance(d[0]["KeyboardIdle"], int), d[0]["Memory"] > 0)')"
check_eq "pool status --constraint" "slot2@ws1" "$(pool status --constraint 'SlotID == 2 && Cpus >= 1' | awk '/@/{print $1}')"
out=$(pool status --constraint 'SlotID ==' 2>&1); rc=$?
check_status "a bad constraint" 1 $rc
check_contains "names the column" "constraint, column" "$out"

# ---- only pool members advertise ----
mkdir -p "$TMP/intruder"
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$TMP/intruder/pool.key"
chmod 600 "$TMP/intruder/pool.key"
start_startd intruder
if wait_for 10 grep -q "refused our pool key" intruder/startd.log; then
	pass "a startd with the wrong pool key is refused"
else
	fail "a startd with the wrong pool key is refused" "$(cat intruder/startd.log)"
fi
check_contains "its log says what to do" "pool_key_file must be a copy of the schedd's" "$(cat intruder/startd.log)"
check_contains "the schedd's log says who" "daemon \"startd@intruder\" does not hold this pool's key" "$(cat s/schedd.log)"
sleep 2
check_eq "and never appears" "" "$(pool status | grep intruder)"
check_eq "the refusal is logged once, not every second" "1" "$(grep -c 'refused our pool key' intruder/startd.log)"

# A local user cannot advertise a machine either (Unix socket, user role).
out=$(python3 - "$TMP/s/schedd.sock" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
def recv_frame():
    hdr = b""
    while len(hdr) < 12:
        hdr += s.recv(12 - len(hdr))
    magic, ver, typ, length = struct.unpack(">IHHI", hdr)
    body = b""
    while len(body) < length:
        body += s.recv(length - len(body))
    return typ, body
recv_frame()  # HELLO
# MACHINE_ADS (20) with no ads: "(aa(ss))" of an empty array is 0 bytes.
s.sendall(struct.pack(">IHHI", 0x4B495445, 1, 20, 0))
typ, body = recv_frame()
print(typ, body[4:].split(b"\0")[0].decode())
PY
)
check_contains "a user's MACHINE_ADS is refused" "1 permission denied: only pool daemons may advertise machines" "$out"

# ---- leaving the pool ----
start_startd ws2
WS2_PID=$STARTD_PID
wait_for 10 listed ws2 && pass "a second machine appears" || fail "a second machine appears" "$(cat ws2/startd.log)"
{ kill -9 "$WS2_PID"; wait "$WS2_PID"; } 2>/dev/null
killed_at=$(date +%s.%N)
check_contains "a startd killed with -9 is still listed at first" "slot1@ws2" "$(pool status)"
if wait_for 10 not_listed ws2; then pass "and disappears when its ads expire"; else fail "and disappears when its ads expire" "$(pool status)"; fi
gone=$(echo "$(date +%s.%N) - $killed_at" | bc)
if [ "$(echo "$gone >= 1.5" | bc)" = 1 ]; then pass "not before 3 advertise intervals (${gone}s)"; else fail "expiry" "gone after ${gone}s"; fi
check_contains "the schedd logs the expiry" "machine slot1@ws2 (daemon:startd@ws2) expired" "$(cat s/schedd.log)"

kill -TERM "$WS1_PID"
if wait_for 1 not_listed ws1; then pass "a startd that stops withdraws its slots at once"; else fail "a startd that stops withdraws its slots at once" "$(pool status)"; fi
wait "$WS1_PID"
check_status "the stopped startd" 0 $?

# ---- defaults: no config file, the schedd's Unix socket ----
mkdir -p "$TMP/plain" && cp s/pool.key plain/
startd --state-dir "$TMP/plain" --schedd "$TMP/s/schedd.sock" 2>plain/startd.log &
PLAIN_PID=$!
PIDS+=("$PLAIN_PID")
host=$(hostname)
if wait_for 10 listed "$host"; then pass "a startd on defaults advertises over the Unix socket"; else fail "a startd on defaults advertises over the Unix socket" "$(cat plain/startd.log)"; fi
sleep 1.5
log=$(cat plain/startd.log)
for src in tty input logind; do
	n=$(grep -c "activity source $src:" plain/startd.log)
	if [ "$n" -le 1 ]; then pass "source $src: absence logged at most once ($n)"; else fail "source $src logged $n times" "$log"; fi
done

# ---- a restarted schedd learns the pool again ----
stop_schedd
start_schedd "$TMP/s"
if wait_for 10 listed "$host"; then pass "after a schedd restart the startd advertises again"; else fail "after a schedd restart the startd advertises again" "$(tail -5 plain/startd.log)"; fi
check_contains "and logs that it is back" "advertising 1 slot(s) to the schedd at $TMP/s/schedd.sock" "$(tail -3 plain/startd.log)"
kill "$PLAIN_PID"; wait "$PLAIN_PID" 2>/dev/null
stop_schedd

finish
