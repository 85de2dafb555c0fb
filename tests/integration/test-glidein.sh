#!/bin/bash
# test-glidein.sh — `pool glidein` against a real OpenSSH server (Debian's
# sshd) that the test starts on a loopback port with keys it generates:
# joining, a second glidein, --status, --stop, a wrong key, an unknown and
# a changed host key, a startd that cannot start, and unreachable hosts
# (a closed port, a port that never answers the SYN, a server that never
# speaks) handled beside a host that joins.
. "$(dirname "$0")/lib.sh"

if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null; then
	echo "skip: needs /usr/sbin/sshd and ssh-keygen (openssh-server, openssh-client; scripts/setup-deps.sh)"
	exit 77
fi
# As root, sshd wants its privilege separation directory (the Debian
# service creates it at boot); unprivileged it runs without one.
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# A process that exited but whose parent (here pid 1) has not reaped it
# yet is not alive.
alive() { local s; s=$(ps -o stat= -p "$1") && [[ "$s" != Z* ]]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- an SSH server for this test only ----
SSH=$TMP/ssh
mkdir -p "$SSH"
ssh-keygen -q -t ed25519 -N '' -C test-host -f "$SSH/host_key"
ssh-keygen -q -t ed25519 -N '' -C test-other-host -f "$SSH/other_host_key"
ssh-keygen -q -t ed25519 -N '' -C test-admin -f "$SSH/id_admin"
ssh-keygen -q -t ed25519 -N '' -C test-stranger -f "$SSH/id_stranger"
cp "$SSH/id_admin.pub" "$SSH/authorized_keys"
SSH_PORT=$(free_port)
cat >"$SSH/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSH_PORT
HostKey $SSH/host_key
AuthorizedKeysFile $SSH/authorized_keys
PidFile $SSH/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
/usr/sbin/sshd -D -e -f "$SSH/sshd_config" 2>>"$SSH/sshd.log" &
PIDS+=($!)
if ! wait_for 10 port_open "$SSH_PORT"; then
	echo "sshd did not start; its log:"; cat "$SSH/sshd.log"; exit 1
fi
# known_hosts as OpenSSH's client writes it on Debian: hashed names.
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH/host_key.pub")" >"$SSH/known_hosts"
ssh-keygen -q -H -f "$SSH/known_hosts" >/dev/null 2>&1
FINGERPRINT=$(ssh-keygen -lf "$SSH/host_key.pub" | awk '{print $2}')
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH/other_host_key.pub")" >"$SSH/changed_known_hosts"
: >"$SSH/empty_known_hosts"

start_schedd "$TMP/s"
SCHEDD_PORT=${SCHEDD_ADDR##*:}
export XDG_CONFIG_HOME=$TMP/config # the record of glided-in hosts
unset SSH_AUTH_SOCK		    # only the test's keys
ME=$(id -un)
T=$ME@127.0.0.1:$SSH_PORT
REMOTE=$HOME/.kite-glidein/127.0.0.1_$SCHEDD_PORT
MACHINE=glidein-127.0.0.1

# Whatever happens, leave no startd and no directory behind.
remote_startd() {
	local pid
	pid=$(cat "$1/startd.pid" 2>/dev/null) && [ -n "$pid" ] && [ "/proc/$pid/exe" -ef "$1/bin/startd" ] && echo "$pid"
}
glidein_cleanup() {
	for d in "$REMOTE" "$TMP"/remote-*; do
		pid=$(remote_startd "$d") && kill -9 "$pid" 2>/dev/null
		[ "$d" == "$REMOTE" ] && rm -rf "$REMOTE" "$REMOTE".new-*
	done
	rmdir "$HOME/.kite-glidein" 2>/dev/null
	cleanup
}
trap glidein_cleanup EXIT

cat >"$TMP/startd.yaml" <<EOF
advertise_interval: 1s
poll_interval: 0.2s
benchmark: false
activity_sources: [load]
background_load: 1000
EOF

gl() {
	pool glidein --identity "$SSH/id_admin" --known-hosts "$SSH/known_hosts" --config "$TMP/startd.yaml" \
		--timeout 3 --join-timeout 20 "$@"
}

echo "-- join"
out=$(gl "$T" 2>&1)
rc=$?
PID=$(remote_startd "$REMOTE")
check_status "glidein joins" 0 $rc
check_eq "glidein says joined" "$T: joined as $MACHINE (pid $PID)" "$out"
check_eq "pool status shows the glided-in machine" "Unclaimed" "$(states $MACHINE)"
check_eq "the startd runs from the glidein directory" "$REMOTE/bin/startd" "$(readlink /proc/$PID/exe)"
check_eq "the pool key on the host has mode 0600" "600" "$(stat -c %a "$REMOTE/pool.key")"
check_eq "the pool key on the host is the schedd's" "$(cat "$TMP/s/pool.key")" "$(cat "$REMOTE/pool.key")"
check_eq "the glidein directory is private" "700" "$(stat -c %a "$REMOTE")"
check_eq "the programs were copied" "bin/ckpt bin/ckpt-restore bin/startd lib/libckpt.so pool.key startd.log startd.pid startd.yaml state" \
	"$(cd "$REMOTE" && find . -mindepth 1 -maxdepth 2 ! -path './state/*' | sed 's|^\./||' | grep -v '^bin$\|^lib$' | sort | xargs)"
check_eq "the copied startd is the built one" "$(sha256sum <"$BIN/startd")" "$(sha256sum <"$REMOTE/bin/startd")"
check_contains "the startd config names the schedd" "schedd: \"$SCHEDD_ADDR\"" "$(cat "$REMOTE/startd.yaml")"
check_contains "the startd config keeps the admin's settings" "activity_sources: [load]" "$(cat "$REMOTE/startd.yaml")"
check_eq "the startd is in its own session, detached from SSH" "$PID" "$(ps -o sid= -p "$PID" | tr -d ' ')"

echo "-- a second glidein to the same host"
out=$(gl "$T" 2>&1)
rc=$?
check_status "second glidein" 0 $rc
check_eq "second glidein says already running" "$T: already running as $MACHINE (pid $PID)" "$out"
check_eq "the same startd still runs" "$PID" "$(remote_startd "$REMOTE")"

echo "-- status"
out=$(pool glidein --status 2>&1)
rc=$?
check_status "glidein --status" 0 $rc
check_eq "glidein --status lists the host" "$(printf '%-30s %-30s %-7s %s\n%-30s %-30s %-7s %s' HOST MACHINE "IN POOL" DIRECTORY "$T" "$MACHINE" yes "$REMOTE")" "$out"

# refused NAME EXPECTED_LINE [gl options…]: a glidein to $T into a fresh
# directory fails with exactly EXPECTED_LINE and leaves no directory.
refused() {
	local name=$1 expected=$2 dir=$TMP/remote-$RANDOM
	shift 2
	out=$(gl "$@" --remote-dir "$dir" "$T" 2>&1)
	check_status "$name" 1 $?
	check_eq "$name: refused" "$expected" "$out"
	check_eq "$name: nothing left on the host" "absent" "$([ -e "$dir" ] && echo present || echo absent)"
}
accepted() { grep -c "publickey" "$SSH/sshd.log"; }

echo "-- a wrong key"
refused "wrong key" "$T: failed: authentication failed for user $ME with key $SSH/id_stranger" \
	--identity "$SSH/id_stranger"

echo "-- an unknown or changed host key"
logins=$(accepted)
refused "unknown host key" \
	"$T: failed: host key not in $SSH/empty_known_hosts (fingerprint $FINGERPRINT, ssh-ed25519); check the fingerprint, then add the key (for instance by connecting once with ssh)" \
	--known-hosts "$SSH/empty_known_hosts"
refused "no known_hosts file" \
	"$T: failed: host key not in $SSH/no_such_file (fingerprint $FINGERPRINT, ssh-ed25519) — the file does not exist; check the fingerprint, then add the key (for instance by connecting once with ssh)" \
	--known-hosts "$SSH/no_such_file"
refused "changed host key" \
	"$T: failed: host key CHANGED: $SSH/changed_known_hosts has another ssh-ed25519 key for [127.0.0.1]:$SSH_PORT than the one the host presents (fingerprint $FINGERPRINT); someone may be impersonating the host, or it was reinstalled (then remove the old key: ssh-keygen -R '[127.0.0.1]:$SSH_PORT' -f $SSH/changed_known_hosts)" \
	--known-hosts "$SSH/changed_known_hosts"
check_eq "no key was offered to a host that was not recognised" "$logins" "$(accepted)"

echo "-- a startd that cannot start"
cp "$TMP/startd.yaml" "$TMP/bad-startd.yaml"
echo "listen: 192.0.2.1:0" >>"$TMP/bad-startd.yaml" # not an address of this machine
out=$(gl --config "$TMP/bad-startd.yaml" --remote-dir "$TMP/remote-bad" "$T" 2>&1)
rc=$?
check_status "startd that cannot start" 1 $rc
check_eq "the failure quotes the startd's log" \
	"$T: failed: the startd (pid N) exited; startd.log: startd: bind 192.0.2.1:0: Cannot assign requested address" \
	"$(echo "$out" | sed 's/(pid [0-9]*)/(pid N)/')"
check_eq "a startd that failed leaves nothing behind" "absent" "$([ -e "$TMP/remote-bad" ] && echo present || echo absent)"

echo "-- bad input"
out=$(pool glidein "root@" 2>&1)
check_status "bad host" 2 $?
check_eq "bad host is named" 'pool glidein: "root@" is not USER@HOST[:PORT] (e.g. root@ws1, alice@192.168.1.7:2222, bob@[fe80::1]:22)' "$out"
out=$(pool glidein 2>&1)
check_status "no host" 2 $?
printf 'slots: 2\nname: mine\n' >"$TMP/named.yaml"
out=$(gl --config "$TMP/named.yaml" "$T" 2>&1)
check_status "config that sets name" 1 $?
check_eq "config that sets name is refused" "pool glidein: $TMP/named.yaml:2:1: \`name\` is set by pool glidein for each host (name glidein-HOST, this pool's schedd and key); leave it out" "$out"
out=$(gl "$T" "$T" 2>&1)
check_status "a host given twice" 2 $?
out=$(pool glidein --help)
check_contains "pool glidein --help" "USER@HOST[:PORT]... - add workstations to the pool" "$out"

echo "-- stop"
out=$(gl --stop "$T" 2>&1)
rc=$?
check_status "glidein --stop" 0 $rc
check_eq "glidein --stop says stopped" "$T: stopped $MACHINE (pid $PID) and removed $REMOTE" "$out"
check_eq "the machine left the pool" "" "$(states $MACHINE)"
check_eq "the glidein directory is gone" "absent" "$([ -e "$REMOTE" ] && echo present || echo absent)"
check_eq "no startd is left" "gone" "$(alive "$PID" && echo running || echo gone)"
check_eq "--status after stop" "no hosts glided in to the pool at $TMP/s/schedd.sock" "$(pool glidein --status 2>&1)"
out=$(gl --stop "$T" 2>&1)
check_status "a second --stop" 0 $?
check_eq "a second --stop finds nothing" "$T: nothing to stop: $REMOTE does not exist" "$out"

echo "-- unreachable hosts beside one that joins"
CLOSED=$(free_port) # nothing listens there
# A port whose accept queue is full (backlog 0, one connection waiting):
# the kernel drops further SYNs, as a dead or firewalled host would.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
port = s.getsockname()[1]
held = socket.create_connection(("127.0.0.1", port))
print(port, flush=True); time.sleep(300)' >"$TMP/dropping.port" &
DROPPING_PID=$!
PIDS+=($!)
# A server that accepts the connection and never says anything.
python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(300)' >"$TMP/silent.port" &
SILENT_PID=$!
PIDS+=($!)
wait_for 10 test -s "$TMP/dropping.port"
wait_for 10 test -s "$TMP/silent.port"
DROPPING=$(cat "$TMP/dropping.port")
SILENT=$(cat "$TMP/silent.port")
# This time through ssh-agent, and to the schedd over TCP (glidein proves
# itself with the pool key) with a wildcard address for the startds, which
# each host gets as this machine's address as it sees it.
eval "$(ssh-agent -s -a "$TMP/agent.sock")" >/dev/null
PIDS+=("$SSH_AGENT_PID")
ssh-add -q "$SSH/id_admin" 2>/dev/null
gl_agent() {
	KITE_SCHEDD=$SCHEDD_ADDR pool glidein --known-hosts "$SSH/known_hosts" --config "$TMP/startd.yaml" \
		--pool-key "$TMP/s/pool.key" --schedd-address "0.0.0.0:$SCHEDD_PORT" --timeout 2 --join-timeout 20 "$@"
}
# Each line with the seconds since the start in front.
start=$(date +%s.%N)
out=$(gl_agent "$ME@127.0.0.1:$DROPPING" "$ME@127.0.0.1:$CLOSED" "$T" "$ME@127.0.0.1:$SILENT" 2>&1 |
	while IFS= read -r line; do echo "$(echo "$(date +%s.%N) - $start" | bc) $line"; done
	exit "${PIPESTATUS[0]}")
rc=$?
PID=$(remote_startd "$REMOTE")
{ kill "$DROPPING_PID" "$SILENT_PID"; wait "$DROPPING_PID" "$SILENT_PID"; } 2>/dev/null
lines=$(echo "$out" | cut -d' ' -f2-)
when() { echo "$out" | grep -F " $1" | cut -d' ' -f1; }
check_status "some hosts failed" 1 $rc
check_eq "one line per host" "$(sort <<EOF
$ME@127.0.0.1:$CLOSED: failed: cannot connect: Connection refused
$ME@127.0.0.1:$DROPPING: failed: timed out after 2s (connecting)
$ME@127.0.0.1:$SILENT: failed: timed out after 2s (SSH handshake)
$T: joined as $MACHINE (pid $PID)
EOF
)" "$(echo "$lines" | sort)"
check_eq "the refused host is reported first" "$ME@127.0.0.1:$CLOSED: failed: cannot connect: Connection refused" "$(echo "$lines" | head -1)"
# One after the other, the second timeout would come after 4s or more.
check_eq "both dead hosts timed out at once, after 2s ($(when "$ME@127.0.0.1:$DROPPING") and $(when "$ME@127.0.0.1:$SILENT"))" "1 1 1 1" \
	"$(echo "$(when "$ME@127.0.0.1:$DROPPING") >= 2; $(when "$ME@127.0.0.1:$DROPPING") < 3.8; $(when "$ME@127.0.0.1:$SILENT") >= 2; $(when "$ME@127.0.0.1:$SILENT") < 3.8" | bc | xargs)"
check_eq "the host that joined is in the pool" "Unclaimed" "$(states $MACHINE)"
check_contains "the wildcard schedd address became this machine's" "schedd: \"127.0.0.1:$SCHEDD_PORT\"" "$(cat "$REMOTE/startd.yaml")"
check_eq "--status over TCP" "yes" "$(KITE_SCHEDD=$SCHEDD_ADDR pool glidein --status --pool-key "$TMP/s/pool.key" | awk 'NR == 2 {print $3}')"
out=$(gl_agent --stop "$T" 2>&1)
check_eq "and stops again" "$T: stopped $MACHINE (pid $PID) and removed $REMOTE" "$out"
check_eq "the machine left the pool again" "" "$(states $MACHINE)"
kill "$SSH_AGENT_PID"

finish
