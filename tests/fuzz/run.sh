#!/bin/bash
# Run each fuzz target given on the command line for FUZZ_SECONDS seconds
# (10 by default), starting from its seed corpus in tests/fuzz/corpus/NAME
# (never written to: new inputs go to a temporary directory).  A crash or a
# broken property prints the input that caused it, saved under
# FUZZ_ARTIFACTS (build/fuzz/artifacts), and fails the run.
#   FUZZ_ONLY=fuzz-expr   run only that target
set -u
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-10}
ARTIFACTS=${FUZZ_ARTIFACTS:-build/fuzz/artifacts}
mkdir -p "$ARTIFACTS"
failed=0
for target in "$@"; do
	name=$(basename "$target")
	[ -n "${FUZZ_ONLY:-}" ] && [ "$FUZZ_ONLY" != "$name" ] && continue
	seeds=tests/fuzz/corpus/$name
	work=$(mktemp -d)
	dict=()
	[ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	log=$(mktemp)
	# -max_len keeps each run about the parser, not about copying big inputs.
	if "$target" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-" "${dict[@]}" \
		"$work" $( [ -d "$seeds" ] && echo "$seeds" ) >"$log" 2>&1; then
		runs=$(awk '/stat::number_of_executed_units/{print $2}' "$log")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		printf 'PASS %s (%s runs, %s)\n' "$name" "${runs:-?}" "${cov:-cov: ?}"
	else
		failed=1
		printf 'FAIL %s\n' "$name"
		grep -E 'fuzz property broken|ERROR: |SUMMARY|runtime error|Test unit written' "$log" | head -8 | sed 's/^/    /'
	fi
	rm -rf "$work" "$log"
done
exit $failed
