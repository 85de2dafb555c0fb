#!/bin/sh
# Run every unit test binary; print cmocka's own summaries and a total.
# Usage: run-unit.sh [WRAPPER…] -- TEST…
wrapper=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do wrapper="$wrapper $1"; shift; done
[ "$1" = "--" ] && shift
failed=0
passed=0
for t in "$@"; do
	echo "== $t"
	# shellcheck disable=SC2086
	if $wrapper "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit test programs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
