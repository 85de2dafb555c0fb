#!/bin/sh
# Run every integration test script; each prints its own checks.
# A script exits 0 on success, 77 when it must be skipped (says why).
failed=0
passed=0
skipped=0
for t in "$@"; do
	echo "== $t"
	start=$(date +%s)
	bash "$t"
	rc=$?
	end=$(date +%s)
	case $rc in
	0) passed=$((passed + 1)); echo "PASS: $t ($((end - start)) s)" ;;
	77) skipped=$((skipped + 1)); echo "SKIP: $t" ;;
	*) failed=$((failed + 1)); echo "FAIL: $t (exit $rc)" ;;
	esac
done
echo "integration tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
