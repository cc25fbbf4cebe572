#!/usr/bin/env bash
# Full test run: install dependencies, then build and run the whole ctest
# suite three times: with gcc and -Werror (build-test), with AddressSanitizer
# + UndefinedBehaviorSanitizer (build-asan), and with clang and -Werror
# (build-clang, which also runs every libFuzzer harness for 30 s). A failing
# ctest run does not stop the others; the exit status is non-zero if any
# build or test failed.
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

# clang: the whole suite again with -Werror, plus a short libFuzzer run of
# every harness (tests/fuzz/, RELIABILITY.md) when clang has libFuzzer.
if command -v clang >/dev/null 2>&1; then
  fuzz=OFF
  if printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)'\
'{ (void)d; (void)n; return 0; }\n' |
    clang -fsanitize=fuzzer -x c - -o "$ROOT/build-clang-probe" >/dev/null 2>&1; then
    fuzz=ON
  fi
  rm -f "$ROOT/build-clang-probe"
  step "build-clang: clang, -DALCM_WERROR=ON, ALCM_FUZZ=$fuzz"
  if CC=clang cmake -S "$ROOT" -B "$ROOT/build-clang" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALCM_WERROR=ON -DALCM_FUZZ=$fuzz &&
    cmake --build "$ROOT/build-clang" -j"$JOBS"; then
    step "ctest (build-clang)"
    (cd "$ROOT/build-clang" && ctest --output-on-failure -j2 --timeout 600) ||
      failed+=("ctest in build-clang")
    if [ "$fuzz" = ON ]; then
      step "libFuzzer: every harness for 30 s"
      PARALLEL=2 bash "$ROOT/tests/fuzz/run_fuzzers.sh" "$ROOT/build-clang" 30 ||
        failed+=("short fuzz run")
    fi
  else
    failed+=("build-clang")
  fi
else
  step "build-clang: skipped (no clang; scripts/install-deps.sh installs it)"
fi

if [ "${#failed[@]}" -ne 0 ]; then
  step "test: FAILED (${failed[*]})"
  exit 1
fi
step "test: OK"
