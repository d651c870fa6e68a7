#!/bin/sh
# run-unit.sh - runs each cmocka unit-test binary given as an argument,
# shows its output, and ends with one line "N passed, N failed" counting
# test cases over all binaries.  Exits non-zero if any test failed or any
# binary crashed or exited non-zero (a crash counts its unfinished tests,
# at least one, as failed).

passed=0
failed=0
bad=0
out=$(mktemp "${TMPDIR:-/tmp}/run-unit.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT INT TERM

# A hung test (a deadlock, a lost wake-up) fails after this many seconds
# instead of stalling the run.
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}

for t in "$@"; do
	timeout -k 5 "$UNIT_TIMEOUT" "$t" >"$out" 2>&1
	rc=$?
	[ "$rc" -eq 124 ] && echo "run-unit: $t: timed out after ${UNIT_TIMEOUT}s" >&2
	cat "$out"
	# cmocka: "[==========] Running N test(s)."
	#         "[  PASSED  ] N test(s)."  "[  FAILED  ] N test(s)..."
	run=$(sed -n 's/^\[=*\] Running \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	run=${run:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Crashed or exited early: whatever did not pass failed.
		f=$((run - p))
		[ "$f" -gt 0 ] || f=1
		echo "run-unit: $t: exit status $rc" >&2
	fi
	[ "$rc" -ne 0 ] && bad=1
	[ "$f" -gt 0 ] && bad=1
	passed=$((passed + p))
	failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$bad" -eq 0 ] && [ "$failed" -eq 0 ]
