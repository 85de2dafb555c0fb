#!/bin/bash
# queue: {matching: …} and {items: …} (Condor's `queue matching` and
# `queue from`): one proc per file or item, each with its $(Item) in its
# arguments, inputs and outputs, and its Item for q; the jobs run and
# each output is its own item's.
. "$(dirname "$0")/lib.sh"

start_schedd "$TMP/s" "negotiator_interval: 1s" "claim_poll_interval: 0.1s"
cd "$TMP"
job_startds
start_startd ws1 "${STARTD_CONFIG[@]}" "slots: 2"

mkdir -m 755 sweep
cd sweep
printf 'aa' >a.dat; printf 'bbbb' >b.dat; printf 'cccccc' >c.dat; printf 'x' >notes.txt
cat >sweep.yaml <<'YAML'
executable: /bin/sh
arguments: ["-c", "echo $(Process) $(Item) $$(wc -c <$(Item))"]
transfer_input_files: [$(Item)]
output: out.$(Item)
queue: {matching: "*.dat"}
YAML
C=$(submit sweep.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
check_eq "one proc per matching file, Item for q" "$(printf '0 a.dat\n1 b.dat\n2 c.dat')" "$(q "$C" -af ProcId Item)"
if wait_for 30 bash -c "[ \$(q --history -af ClusterId | grep -cx $C) = 3 ]"; then pass "the three jobs ran"; else fail "the three jobs ran" "$(q -a "$C")"; fi
check_eq "each output is its item's" "$(printf '0 a.dat 2\n1 b.dat 4\n2 c.dat 6')" "$(cat out.a.dat out.b.dat out.c.dat)"

cat >list.yaml <<'YAML'
executable: /bin/echo
arguments: [$(Item)]
queue: {items: [red, green]}
YAML
C=$(submit list.yaml | sed -n 's/.*cluster \([0-9]*\)\..*/\1/p')
check_eq "queue.items: one proc per item" "$(printf 'red\ngreen')" "$(q "$C" -af Arguments)"
pool rm "$C" >/dev/null
finish
