#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what it needs, builds, and runs ctest
#   1. release build: unit, integration, conformance
#   2. ASan + UBSan build: the same suite again
#   3. clang libFuzzer build: every fuzz target for TIDEGATE_FUZZ_SECONDS (default 20) each
# Environment: TIDEGATE_FUZZ_SECONDS, TIDEGATE_TEST_STAGES (default "release asan fuzz").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_seconds=${TIDEGATE_FUZZ_SECONDS:-20}
stages=${TIDEGATE_TEST_STAGES:-release asan fuzz}
jobs=$(nproc)

"$root/scripts/install-deps.sh"
if [[ ! -d "$root/tests/integration/node_modules/ws" ||
      ! -d "$root/tests/integration/node_modules/playwright-core" ]]; then
    npm ci --prefix "$root/tests/integration" --no-audit --no-fund --loglevel=error
fi

run_stage() {
    local name=$1 dir=$2; shift 2
    echo "=== tidegate tests: $name ==="
    cmake -S "$root" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    (cd "$dir" && ctest --output-on-failure --timeout 900 -j"$jobs")
}

for stage in $stages; do
    case $stage in
    release) run_stage release "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    asan)
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            run_stage "asan+ubsan" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug \
            -DTIDEGATE_SANITIZE=ON ;;
    fuzz)
        CC=clang run_stage "fuzz (${fuzz_seconds}s per target)" "$root/build-fuzz" \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIDEGATE_FUZZ=ON \
            -DTIDEGATE_FUZZ_SECONDS="$fuzz_seconds" ;;
    *) echo "unknown stage '$stage'" >&2; exit 2 ;;
    esac
done
echo "=== tidegate tests: all stages passed ($stages) ==="
