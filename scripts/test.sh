#!/usr/bin/env bash
# test.sh: README command 2. Installs what Parallax needs (Debian 12, as root), builds it twice
# — normally and with AddressSanitizer + UndefinedBehaviorSanitizer — and runs the whole CTest
# suite (unit, fuzz-corpus and integration tests against a private PostgreSQL) in both.
# Set PX_SKIP_DEPS=1 to skip the package installation.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${PX_SKIP_DEPS:-0}" = 1 ] || bash scripts/deps.sh

run_suite() {
    local dir=$1; shift
    echo "== building $dir $*"
    bash scripts/build.sh "$dir" "$@"
    echo "== testing $dir"
    (cd "$dir" && ctest --output-on-failure -j2 --timeout 600)
}

run_suite build
# Leaks, overflows and undefined behaviour fail the run; UBSan suppressions cover only
# protobuf-c's own known benign findings (tests/fuzz/ubsan.supp).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ -f tests/fuzz/ubsan.supp ]; then
    UBSAN_OPTIONS="$UBSAN_OPTIONS:suppressions=$(pwd)/tests/fuzz/ubsan.supp"
fi
run_suite build-san -DSANITIZE=ON
echo "== all tests passed in both builds"
