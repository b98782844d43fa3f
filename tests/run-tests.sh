#!/bin/sh
# Runs every test: the unit test binaries given as arguments, then the
# integration tests (real coordinator processes) in tests/integration/.
# Prints one closing line "N passed, N failed" and exits non-zero on any failure.
#   CAIRN_BUILD   build directory holding bin/ and tests/ (default build)
#   CAIRN_ONLY    unit | integration: run one half only
set -u
BUILD=${CAIRN_BUILD:-build}
ONLY=${CAIRN_ONLY:-all}
passed=0
failed=0
failures=""

if [ "$ONLY" != integration ]; then
    for t in "$@"; do
        name=$(basename "$t")
        log="$BUILD/tests/$name.log"
        if "$t" >"$log" 2>&1; then
            passed=$((passed + 1))
            echo "PASS unit/$name"
        else
            failed=$((failed + 1))
            failures="$failures unit/$name"
            echo "FAIL unit/$name (log: $log)"
            tail -n 30 "$log"
        fi
    done
fi

if [ "$ONLY" != unit ]; then
    out=$(mktemp)
    CAIRN_BIN="$BUILD/bin" CAIRN_TOOLS="$BUILD/tests" \
        python3 tests/integration/runner.py >"$out" 2>&1
    cat "$out"
    ip=$(sed -n 's/^integration: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$out")
    if=$(sed -n 's/^integration: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$out")
    if [ -z "$ip" ]; then
        failed=$((failed + 1))
        failures="$failures integration(runner)"
    else
        passed=$((passed + ip))
        failed=$((failed + if))
        [ "$if" -gt 0 ] && failures="$failures integration"
    fi
    rm -f "$out"
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
