#!/usr/bin/env bash
# make test: builds, then runs every suite; a failure never stops the rest. The last line says what
# failed (`make test: all passed` or `make test: FAILED: …`), after swift test's own closing lines,
# and the exit status is non-zero on any failure.
# Env: SWIFT, IMAGE_DIR, LOHAR (from the Makefile); extra arguments go to `swift test`.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
export BHATTI_TEST_IMAGE_DIR=${IMAGE_DIR:-/var/lib/bhatti/images/default}
export BHATTI_TEST_LOHAR=${LOHAR:-.build/static/release/lohar}

log=$(mktemp /tmp/bhatti-test.XXXXXX)
trap 'rm -f "$log"' EXIT
failed=()

# Every target imports only what Package.swift declares for it.
if ! "$SWIFT" build --build-tests --explicit-target-dependency-import-check error; then
    echo "make test: FAILED: build (no test ran)"
    exit 1
fi

# The house style (.swift-format), checked by the toolchain's own formatter; a failure does not stop
# the tests.
if ! "$SWIFT" format lint --strict --recursive Sources Tests Package.swift; then
    failed+=("swift format lint (fix with: swift format --in-place --recursive Sources Tests Package.swift)")
fi

# One run's failures, from its output in $log and its status: the failed suites by name, or the crash
# that ended it before its closing lines.
judge() {
    local name=$1 status=$2 suites last
    [ "$status" -eq 0 ] && return 0
    suites=$(sed -n 's/^[^ ]* Suite \(.*\) failed after .*$/\1/p' "$log" | sort -u | paste -sd, - | sed 's/,/, /g')
    if ! grep -q "Test run with .* tests\? in .* after" "$log"; then
        last=$(grep -o 'Test .* started\.' "$log" | tail -1)
        failed+=("$name ended with status $status before its summary (a crash?${last:+ last: $last})")
        return 2
    fi
    failed+=("$name: ${suites:-status $status}")
}

# Every suite in one process: Swift Testing runs them all, in parallel, whatever fails.
"$SWIFT" test --skip-build "$@" 2>&1 | tee "$log"
judge "swift test" "${PIPESTATUS[0]}"
if [ $? -eq 2 ]; then
    # A crash ends the process and the suites it had not run: run each test target on its own.
    echo "make test: swift test crashed; running each test target on its own"
    for target in $(ls Tests); do
        "$SWIFT" test --skip-build --filter "^$target\\." "$@" 2>&1 | tee "$log"
        judge "$target" "${PIPESTATUS[0]}"
    done
fi

# `make serve` and `make bench` build in release mode, where whole-module builds diagnose what the debug
# build did not (a member whose module a file did not import): build them too.
for product in bhatti bhatti-bench; do
    if ! "$SWIFT" build -c release --product "$product"; then
        failed+=("release build of $product")
    fi
done

if [ ${#failed[@]} -eq 0 ]; then
    echo "make test: all passed"
else
    echo "make test: FAILED: $(printf '%s; ' "${failed[@]}" | sed 's/; $//')"
    exit 1
fi
