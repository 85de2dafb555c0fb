#!/bin/bash
# ckpt_server advertises itself to the schedd (config key `schedd`): its
# ad (MyType "CkptServer": address, space, load) appears in `pool status
# --ckpt-servers` with the numbers of `ckpt_server --status`, follows
# what is stored, stays out of `pool status` (slots only), goes at once
# when the server stops (withdrawn), and within three intervals when it
# is killed (expired).
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s"
start_startd ws1
wait_for 10 sh -c "pool status | grep -q '@ws1'" || fail "the startd's slot did not appear"

# start_ckpt_server INTERVAL: a server on loopback advertising to the schedd
start_ckpt_server() {
	mkdir -p "$TMP/c"
	cat >"$TMP/c/server.yaml" <<EOT
listen: 127.0.0.1:${CS_PORT:-0}
pool_key_file: $TMP/s/pool.key
schedd: $SCHEDD_ADDR
advertise_interval: $1
total_space: 1G
EOT
	rm -f "$TMP/c/ckpt_server.addr"
	"$BIN/ckpt_server" --config "$TMP/c/server.yaml" --state-dir "$TMP/c" 2>>"$TMP/c/log" &
	CS_PID=$!
	PIDS+=("$CS_PID")
	wait_for 10 test -s "$TMP/c/ckpt_server.addr" || { fail "ckpt_server did not start" "$(tail -5 "$TMP/c/log")"; finish; }
	CS=$(cat "$TMP/c/ckpt_server.addr")
	CS_PORT=${CS##*:}
}
# field NAME: an attribute of the server's ad, from `pool status --ckpt-servers --json`
field() {
	pool status --ckpt-servers --json | python3 -c '
import json, sys
ads = [a for a in json.load(sys.stdin) if a.get("CkptServerAddr") == sys.argv[1]]
print(ads[0][sys.argv[2]] if ads else "absent")' "$CS" "$1"
}
servers() { pool status --ckpt-servers --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }

start_ckpt_server 1s
export KITE_POOL_KEY_FILE=$TMP/s/pool.key
if wait_for 10 sh -c "[ \"\$(pool status --ckpt-servers --json | grep -c '\"CkptServerAddr\": \"$CS\"')\" = 1 ]"; then
	pass "the server's ad reached the schedd"
else
	fail "no ad for $CS in pool status --ckpt-servers" "$(pool status --ckpt-servers --json; tail -5 "$TMP/c/log")"
fi
check_eq "MyType" "CkptServer" "$(field MyType)"
check_eq "Name" "ckpt_server@$CS" "$(field Name)"
check_eq "TotalSpace is total_space" 1073741824 "$(field TotalSpace)"
check_eq "UsedSpace, nothing stored yet" 0 "$(field UsedSpace)"
check_eq "FreeSpace, nothing stored yet" 1073741824 "$(field FreeSpace)"
load=$(field LoadAvg)
[[ "$load" =~ ^[0-9]+(\.[0-9]+)?$ ]] && pass "LoadAvg is a number ($load)" || fail "LoadAvg is '$load'"
check_eq "ClassAdLifetime is three intervals" 3 "$(field ClassAdLifetime)"
check_contains "the schedd records who advertised" "daemon:ckpt_server" "$(field AuthenticatedIdentity)"

# what is stored shows in the ad, as in --status
"$BIN/ckpt" alloc --server "$CS" --owner alice "$TMP/caps" >/dev/null || fail "ckpt alloc failed"
head -c 3000000 /dev/urandom >"$TMP/blob"
"$BIN/ckpt" upload --caps "$TMP/caps" <"$TMP/blob" >/dev/null || fail "ckpt upload failed"
used=$("$BIN/ckpt_server" --config "$TMP/c/server.yaml" --state-dir "$TMP/c" --status | awk '$1 == "used:" {print $2}')
[ "${used:-0}" -ge 3000000 ] || fail "--status says $used bytes used after storing 3000000"
if wait_for 5 sh -c "[ \"\$(pool status --ckpt-servers -l | awk '\$1 == \"UsedSpace\" {print \$3}')\" = $used ]"; then
	pass "UsedSpace follows what is stored ($used bytes, as --status says)"
else
	fail "UsedSpace did not become $used" "$(pool status --ckpt-servers -l)"
fi
check_eq "FreeSpace is TotalSpace - UsedSpace" $((1073741824 - used)) "$(field FreeSpace)"
check_eq "Allocations" 1 "$(field Allocations)"

# the table, and `pool status` without the option: slots only
table=$(pool status --ckpt-servers)
check_contains "table header" "Name                             Address                       Total       Used       Free Conns Uploads LoadAv" "$table"
check_contains "table row" "ckpt_server@$CS" "$table"
check_contains "table total" "1 checkpoint server(s)" "$table"
plain=$(pool status)
check_contains "pool status still shows the slot" "@ws1" "$plain"
check_not_contains "pool status shows no checkpoint server" "ckpt_server@" "$plain"
check_not_contains "pool status --json neither" "CkptServer" "$(pool status --json)"
check_eq "--ckpt-servers with a constraint that excludes it" 0 \
	"$(pool status --ckpt-servers --constraint 'FreeSpace < 1000' --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"

# a server that stops withdraws its ad at once (long lifetime: not expiry)
kill "$CS_PID"; wait "$CS_PID" 2>/dev/null
start_ckpt_server 20s
wait_for 10 sh -c "[ \"\$(pool status --ckpt-servers --json | grep -c CkptServerAddr)\" = 1 ]" || fail "restarted server not advertised"
kill "$CS_PID"; wait "$CS_PID" 2>/dev/null
check_eq "a stopped server's ad is withdrawn at once (60 s lifetime)" 0 "$(servers)"

# a server killed outright: its ad expires after three intervals
start_ckpt_server 1s
wait_for 10 sh -c "[ \"\$(pool status --ckpt-servers --json | grep -c CkptServerAddr)\" = 1 ]" || fail "server not advertised again"
kill -9 "$CS_PID"; wait "$CS_PID" 2>/dev/null
killed=$SECONDS
check_eq "just after SIGKILL the ad is still there" 1 "$(servers)"
if wait_for 10 sh -c "[ \"\$(pool status --ckpt-servers --json | grep -c CkptServerAddr)\" = 0 ]"; then
	pass "a killed server's ad expired ($((SECONDS - killed)) s after the kill; lifetime 3 s)"
else
	fail "a killed server's ad is still listed 10 s later"
fi
finish
