#!/bin/bash
# Who may do what: users reach the schedd over TCP with tokens, change
# only their own jobs, and see a clear refusal otherwise; a Unix-socket
# peer is who its uid says; no credentials, no service.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s"
cd "$TMP"
printf 'executable: /bin/true\nqueue: 2\n' >job.yaml

# Tokens are made by an admin (root on the local socket is an admin).
alice=$(pool token create --user alice); rc=$?
check_status "admin creates a token for alice" 0 $rc
bob=$(pool token create --user bob --lifetime 1h)
check_contains "a token looks like one" "kite1." "$alice"

tcp() { KITE_SCHEDD=$SCHEDD_ADDR KITE_TOKEN=$1 "${@:2}"; }

out=$(tcp "$alice" submit job.yaml)
check_eq "alice submits over TCP" "2 job(s) submitted to cluster 1." "$out"
out=$(tcp "$bob" submit job.yaml)
check_eq "bob submits over TCP" "2 job(s) submitted to cluster 2." "$out"

out=$(tcp "$bob" q)
check_eq "bob's q shows only his jobs" "2" "$(echo "$out" | grep -c ' bob ')"
check_eq "bob's q hides alice's jobs" "0" "$(echo "$out" | grep -c ' alice ')"
out=$(tcp "$bob" q --all)
check_eq "q --all shows everyone's" "4" "$(echo "$out" | grep -cE ' (alice|bob) ')"

out=$(tcp "$bob" pool rm 1.0 2>&1); rc=$?
check_status "bob removing alice's job" 1 $rc
check_eq "refusal names the owner" "pool: permission denied: job 1.0 belongs to alice" "$out"
out=$(tcp "$bob" pool hold 1 2>&1); rc=$?
check_status "bob holding alice's cluster" 1 $rc
check_contains "each proc refused" "permission denied: job 1.1 belongs to alice" "$out"
out=$(tcp "$bob" pool edit 1.0 JobPrio 9 2>&1); rc=$?
check_status "bob editing alice's job" 1 $rc
check_eq "alice's jobs untouched" "2" "$(tcp "$alice" q | grep -c '^1\.[01] .* I  0 ')"

out=$(tcp "$alice" pool rm 1.0); rc=$?
check_status "alice removes her own job" 0 $rc
check_eq "alice's removal output" "job 1.0 removed" "$out"
out=$(pool rm 2.1); rc=$?
check_status "the admin removes bob's job" 0 $rc

out=$(tcp "$bob" pool token create --user alice 2>&1); rc=$?
check_status "bob making a token for alice" 1 $rc
check_contains "token refusal" "only an admin may create a token for another user" "$out"
out=$(tcp "$bob" pool token create --user bob); rc=$?
check_status "bob making his own token" 0 $rc

# Bad and missing credentials.
out=$(KITE_SCHEDD=$SCHEDD_ADDR KITE_TOKEN= KITE_TOKEN_FILE=$TMP/none q 2>&1); rc=$?
check_status "TCP without a token" 1 $rc
check_contains "no token: says what to do" "a TCP connection needs a token" "$out"
forged=${alice%?}0
[ "$forged" == "$alice" ] && forged=${alice%?}1
out=$(tcp "$forged" q 2>&1); rc=$?
check_status "a forged token" 1 $rc
check_contains "forged token refused" "token signature does not match this pool's key" "$out"
expired=$(pool token create --user carol --lifetime 1s)
sleep 2.1
out=$(tcp "$expired" q 2>&1); rc=$?
check_status "an expired token" 1 $rc
check_contains "expired token refused" "token for carol expired" "$out"

# A token from another pool (another key) is refused.
start_schedd "$TMP/other"
other=$(pool token create --user alice)
out=$(tcp "$other" q 2>&1) # SCHEDD_ADDR is now the other pool's
check_status "token works on its own pool" 0 $?
export KITE_SCHEDD=$TMP/s/schedd.sock
first_addr=$(cat "$TMP/s/schedd.addr")
out=$(KITE_SCHEDD=$first_addr KITE_TOKEN=$other q 2>&1); rc=$?
check_status "token of another pool" 1 $rc

# A second local user on the Unix socket is identified by uid.
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ] && setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$BIN/q"; then
	chmod 755 "$TMP" "$TMP/s"
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env KITE_SCHEDD=$TMP/s/schedd.sock "$@"; }
	cp job.yaml /tmp/kite-nobody-job.$$.yaml && chmod 644 /tmp/kite-nobody-job.$$.yaml
	out=$(cd /tmp && as_nobody "$BIN/submit" /tmp/kite-nobody-job.$$.yaml); rc=$?
	rm -f /tmp/kite-nobody-job.$$.yaml
	check_status "nobody submits over the Unix socket" 0 $rc
	check_eq "nobody's jobs are owned by nobody" "2" "$(q --all | grep -c ' nobody ')"
	out=$(as_nobody "$BIN/pool" rm 2.0 2>&1); rc=$?
	check_status "nobody removing bob's job" 1 $rc
	check_eq "uid-based refusal" "pool: permission denied: job 2.0 belongs to bob" "$out"
	out=$(as_nobody "$BIN/pool" token create --user root 2>&1); rc=$?
	check_status "nobody making a root token" 1 $rc
else
	echo "  (skipping the second-uid checks: needs root, setpriv and a bin/ that nobody can run)"
fi

finish
