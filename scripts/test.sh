#!/usr/bin/env bash
# Full test run: install dependencies, then build and run the whole ctest
# suite twice: with gcc and -Werror (build-test), and with AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan). A failing ctest run does not stop
# the other one; the exit status is non-zero if any build or test failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/install-deps.sh

JOBS=$(nproc 2>/dev/null || echo 2)
export CC=${CC:-gcc}
# Tests must never wait for a terminal.
exec </dev/null

step() { printf '\n==== %s ====\n' "$*"; }
failed=()

step "build-test: $CC, -DALCM_WERROR=ON"
cmake -S "$ROOT" -B "$ROOT/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DALCM_WERROR=ON
cmake --build "$ROOT/build-test" -j"$JOBS"

step "ctest (build-test)"
(cd "$ROOT/build-test" && ctest --output-on-failure -j2 --timeout 600) ||
  failed+=("ctest in build-test")

step "build-asan: -DALCM_SANITIZE=ON (ASan + UBSan)"
cmake -S "$ROOT" -B "$ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug \
  -DALCM_SANITIZE=ON
cmake --build "$ROOT/build-asan" -j"$JOBS"

step "ctest (build-asan)"
(
  cd "$ROOT/build-asan"
  export ASAN_OPTIONS=detect_leaks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  ctest --output-on-failure -j2 --timeout 1200
) || failed+=("ctest in build-asan")

if [ "${#failed[@]}" -ne 0 ]; then
  step "test: FAILED (${failed[*]})"
  exit 1
fi
step "test: OK"
