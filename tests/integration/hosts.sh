# hosts.sh — several hosts on one machine, for tests that need a network:
# one network namespace per host, each with one interface (eth0) cabled
# to a Linux bridge that lives in a namespace of its own (the "switch").
# Nothing touches the machine's own interfaces, routes or namespaces.
# Root only; a test that sources this on a machine that cannot do it is
# skipped (exit 77) with the reason.
#
# Writing a multi-host test:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/hosts.sh"
#   make_hosts submit ws1 ws2            # namespaces, cables, addresses
#   start_schedd_on submit "$TMP/s"      # listens on submit's address
#   start_startd_on ws1 ws1 "slots: 1"   # machine ws1 on host ws1
#   host_ip ws1                          # 10.77.X.2
#   on_host ws1 ping -c1 "$(host_ip submit)"
#   link_down ws2; …; link_up ws2        # pull ws2's cable, plug it back
#   kill_host ws1                        # every process of host ws1 dies
#
# Hosts share the file system (and $TMP) with the test, so the command
# line tools (`submit`, `q`, `pool`) run from the test itself over the
# schedd's Unix socket.  Only the network is separate: a daemon on a host
# reaches another host's daemons at host_ip, never on 127.0.0.1.
#
# Names: namespaces are "kt<PID>-<host>" (the test's PID), so parallel
# runs never collide; namespaces left behind by a run that was killed
# outright (its PID is gone) are removed by the next make_hosts.  All of
# it — processes, namespaces, bridge — goes when the test exits, fails
# or is interrupted.
#
# Processes are put on a host with `nsenter --net`, not `ip netns exec`:
# the latter mounts a fresh /sys, which hides /sys/fs/cgroup from the
# daemons (the startd puts jobs into cgroups).

HOSTS_PREFIX=kt$$
HOSTS_SWITCH=$HOSTS_PREFIX-sw
# A /24 per run; separate namespaces never see each other's addresses,
# the varying third octet only keeps logs of parallel runs apart.
HOSTS_NET=10.77.$(($$ % 250 + 1))
HOSTS=()
declare -A HOST_IPS=()

hosts_skip() { echo "SKIP: $(basename "$0"): $1"; exit 77; }
[ "$(id -u)" -eq 0 ] || hosts_skip "several hosts need network namespaces, which need root (run as root, as CI does)"
command -v ip >/dev/null || hosts_skip "no \`ip\` command (install iproute2)"
command -v nsenter >/dev/null || hosts_skip "no \`nsenter\` command (install util-linux)"
if ! ip netns add "$HOSTS_PREFIX-probe" 2>/dev/null; then
	hosts_skip "\`ip netns add\` fails here: $(ip netns add "$HOSTS_PREFIX-probe" 2>&1)"
fi
ip netns del "$HOSTS_PREFIX-probe"

host_ns() { echo "$HOSTS_PREFIX-$1"; }

# on_host NAME CMD…: run CMD in host NAME's network (exec'd: CMD keeps
# nsenter's process id, so `on_host h daemon & pid=$!` is the daemon).
on_host() {
	local h=$1; shift
	nsenter --net="/run/netns/$(host_ns "$h")" -- "$@"
}

host_ip() {
	[ -n "${HOST_IPS[$1]:-}" ] || { echo "host_ip: no host $1" >&2; return 1; }
	echo "${HOST_IPS[$1]}"
}

# Namespaces of earlier runs whose test process is gone.
hosts_sweep_leftovers() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^kt[0-9]+-'); do
		pid=${ns#kt}; pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null && continue
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}

# make_hosts NAME…: one host per NAME (at most 12 characters), addresses
# HOSTS_NET.2, .3, … in the order given, all on one bridge.
make_hosts() {
	hosts_sweep_leftovers
	if [ ${#HOSTS[@]} -eq 0 ]; then
		ip netns add "$HOSTS_SWITCH" || { echo "make_hosts: cannot create the switch namespace"; exit 1; }
		ip -n "$HOSTS_SWITCH" link add br0 type bridge
		ip -n "$HOSTS_SWITCH" link set br0 up
	fi
	local h ns i
	for h in "$@"; do
		[ ${#h} -le 12 ] || { echo "make_hosts: host name $h is over 12 characters"; exit 1; }
		ns=$(host_ns "$h")
		i=$((${#HOSTS[@]} + 2))
		ip netns add "$ns" || { echo "make_hosts: cannot create namespace $ns"; exit 1; }
		HOSTS+=("$h")
		# The cable: eth0 on the host, v-NAME on the switch.
		ip -n "$HOSTS_SWITCH" link add "v-$h" type veth peer name eth0 netns "$ns"
		ip -n "$HOSTS_SWITCH" link set "v-$h" master br0 up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$HOSTS_NET.$i/24" dev eth0
		ip -n "$ns" link set eth0 up
		HOST_IPS[$h]=$HOSTS_NET.$i
	done
}

# link_down NAME / link_up NAME: unplug host NAME's cable at the switch
# and plug it back.  The host keeps its address and its processes run
# on; packets between it and the others are lost, as with a cut cable.
link_down() { ip -n "$HOSTS_SWITCH" link set "v-$1" down; }
link_up() { ip -n "$HOSTS_SWITCH" link set "v-$1" up; }

# kill_host NAME: SIGKILL every process in host NAME, as if it lost
# power (its namespace stays, with nothing running: connections to it
# are refused).  Returns when none is left.
kill_host() {
	local ns pids n
	ns=$(host_ns "$1")
	for n in $(seq 50); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] && return 0
		kill -9 $pids 2>/dev/null
		sleep 0.05
	done
	echo "kill_host: processes of $1 survive: $(ip netns pids "$ns" | xargs)"
	return 1
}

# start_schedd_on HOST DIR [config…]: lib.sh's start_schedd on HOST,
# listening on HOST's address (SCHEDD_ADDR is HOST_IP:PORT).
start_schedd_on() {
	local h=$1; shift
	# Dynamic scope: start_schedd sees these, the caller keeps its own.
	local LAUNCH=(nsenter --net="/run/netns/$(host_ns "$h")" --) LISTEN_HOST
	LISTEN_HOST=$(host_ip "$h")
	start_schedd "$@"
}

# start_startd_on HOST NAME [config…]: lib.sh's start_startd on HOST:
# machine NAME in $TMP/NAME, listening for shadows on HOST's address
# (or on $STARTD_LISTEN, e.g. 0.0.0.0) and advertising to $SCHEDD_ADDR.
start_startd_on() {
	local h=$1; shift
	local LAUNCH=(nsenter --net="/run/netns/$(host_ns "$h")" --) LISTEN_HOST
	LISTEN_HOST=${STARTD_LISTEN:-$(host_ip "$h")}
	start_startd "$@"
}

hosts_cleanup() {
	local h
	for h in "${HOSTS[@]}"; do kill_host "$h" >/dev/null; done
	for h in "${HOSTS[@]}"; do ip netns del "$(host_ns "$h")" 2>/dev/null; done
	ip netns del "$HOSTS_SWITCH" 2>/dev/null
	HOSTS=()
}

# lib.sh's cleanup first (daemons get SIGTERM and clean up after their
# jobs), then whatever still runs on a host, then the network; an
# interrupt goes through the EXIT trap too.
trap 'cleanup; hosts_cleanup' EXIT
trap 'exit 130' INT TERM
