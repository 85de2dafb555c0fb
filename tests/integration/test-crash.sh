#!/bin/bash
# Durability under fire: several clients submit in a loop while the schedd
# is killed with SIGKILL at random moments (KITE_CRASH_KILLS times, 50 by
# default).  After each restart, every cluster whose ids were acknowledged
# must exist exactly once with all its procs, and no id may appear twice.
. "$(dirname "$0")/lib.sh"

KILLS=${KITE_CRASH_KILLS:-50}
WRITERS=3
start_schedd "$TMP/s"
cd "$TMP"
printf 'executable: /bin/true\narguments: "$(Process)"\nqueue: 5\n' >job.yaml

# Each writer submits forever; a line "N job(s) submitted to cluster C."
# in its log is an acknowledgement.
writer() {
	while [ ! -e "$TMP/stop" ]; do
		submit job.yaml >>"$TMP/acks.$1" 2>/dev/null || sleep 0.02
		sleep 0.01
	done
}
WRITER_PIDS=()
for w in $(seq $WRITERS); do writer "$w" & WRITER_PIDS+=($!); PIDS+=($!); done

# verify LABEL: compare the acknowledgements with the queue in one pass
# (awk), since the queue grows to thousands of clusters.
verify() {
	# Acknowledgements first, then the queue: whatever was acknowledged
	# before the listing must be in it.  Only whole lines count.
	cat "$TMP"/acks.* 2>/dev/null | awk '/ submitted to cluster [0-9]+\.$/{sub(/\.$/, "", $NF); print $NF}' >"$TMP/acked"
	q --all | awk '/^[0-9]+\.[0-9]+ /{print $1}' >"$TMP/listing"
	local problems
	problems=$(awk '
		FNR == NR { if (seen[$1]++) print "job " $1 " listed twice"; split($1, id, "."); procs[id[1]]++; next }
		{ if (acked[$1]++) print "cluster " $1 " acknowledged twice"
		  else if (procs[$1] != 5) print "cluster " $1 " acknowledged but has " procs[$1] + 0 " of 5 procs" }
	' "$TMP/listing" "$TMP/acked" | head -5)
	if [ -n "$problems" ]; then
		fail "after kill $1: acknowledged jobs present exactly once" "$problems"
		return 1
	fi
	return 0
}

bad=0
for i in $(seq "$KILLS"); do
	sleep "0.$((RANDOM % 40 + 5))"
	kill -9 "$SCHEDD_PID"
	wait "$SCHEDD_PID" 2>/dev/null
	start_schedd "$TMP/s"
	verify "$i" || bad=$((bad + 1))
done
touch "$TMP/stop"
wait "${WRITER_PIDS[@]}" 2>/dev/null
verify final || bad=$((bad + 1))

acked=$(cat "$TMP"/acks.* | grep -c "submitted to cluster")
[ "$bad" -eq 0 ] && pass "$KILLS SIGKILLs during a submit storm: all $acked acknowledged clusters present exactly once"
[ "$acked" -gt "$KILLS" ] && pass "the storm really submitted ($acked clusters acknowledged)" || fail "the storm really submitted" "only $acked acknowledged"
sqlite3 "$TMP/s/queue.db" "PRAGMA integrity_check" | grep -q '^ok$' && pass "database integrity_check ok" || fail "database integrity_check ok"
finish
