#!/usr/bin/env bash
# Run the libFuzzer harnesses of a -DALCM_FUZZ=ON build for a fixed time
# each and print one summary line per harness.
#
#   tests/fuzz/run_fuzzers.sh BUILD-DIR SECONDS [HARNESS...]
#
# Each harness runs as one process (one job), on a scratch copy of its
# committed corpus (tests/fuzz/corpus/<harness>/ is never written), with
# crash artifacts in $FUZZ_OUT (default: a temp folder that is kept and
# printed). Summary columns: harness, wall s, CPU s (user + sys, from
# getrusage via /usr/bin/time), executions, new corpus units, peak RSS MiB,
# crash artifacts, sanitizer reports. Exit status 1 if any harness crashed
# or reported. PARALLEL=2 runs two harnesses at a time.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD-DIR SECONDS [HARNESS...]" >&2
  exit 64
fi
BUILD=$(cd "$1" && pwd)
SECS=$2
shift 2
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(open chunk safetensors npy npz pytorch roundtrip)
OUT=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/alcm-fuzz-run.XXXXXX")}
PARALLEL=${PARALLEL:-1}
mkdir -p "$OUT"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

run_one() {
  local h=$1 bin="$BUILD/tests/fuzz_$1" work="$OUT/$1"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp"
  cp "$SRC/tests/fuzz/corpus/$h/"* "$work/corpus/" 2>/dev/null
  local t0 t1
  t0=$(date +%s)
  # libFuzzer leaves through _Exit, so the harness's scratch folder goes
  # where it is removed below.
  TMPDIR="$work/tmp" /usr/bin/time -f '%U %S %M' -o "$work/time" \
    "$bin" -max_total_time="$SECS" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" >"$work/log" 2>&1
  local rc=$?
  t1=$(date +%s)
  rm -rf "$work/tmp"
  local cpu execs added rss crashes reports
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$work/time" 2>/dev/null)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  added=$(sed -n 's/^stat::new_units_added: *//p' "$work/log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/log")
  crashes=$(find "$work/artifacts" -type f | wc -l)
  reports=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$work/log")
  printf '%-12s wall %5ss  cpu %5ss  execs %9s  new %5s  peak_rss %5s MiB  crashes %s  reports %s  rc %s\n' \
    "$h" "$((t1 - t0))" "${cpu:-?}" "${execs:-?}" "${added:-?}" "${rss:-?}" \
    "$crashes" "$reports" "$rc" | tee "$work/summary"
  [ "$crashes" -eq 0 ] && [ "$reports" -eq 0 ] && [ "$rc" -eq 0 ]
}

status=0
pids=()
for h in "${HARNESSES[@]}"; do
  if [ ! -x "$BUILD/tests/fuzz_$h" ]; then
    echo "$h: $BUILD/tests/fuzz_$h not built (configure with CC=clang -DALCM_FUZZ=ON)" >&2
    status=1
    continue
  fi
  run_one "$h" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$PARALLEL" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
echo "fuzz output: $OUT"
exit $status
