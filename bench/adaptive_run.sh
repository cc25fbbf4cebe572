#!/bin/sh
# adaptive_run.sh - the adaptive (lossy) mode's figures for BENCHMARKS.md
# "Adaptive (lossy) mode".
#
#   bench/adaptive_run.sh [BUILD_DIR] [OUT_DIR]
#
# BUILD_DIR (default build-bench) is configured and built here (alcm-pack,
# alcm-inspect, alcm-unpack, alcm-bench-adaptive). Writes to OUT_DIR
# (default bench/):
#   adaptive_bench.txt      alcm-bench-adaptive: (a) MLP, (b) measured,
#                           (c) uniform int3..int8 absmax + zstd -1,
#                           (d) error-bound rows, weight tensors only
#   adaptive_rd.json        ratio vs SNR through the real pack path, uniform
#                           int-b in the same container, ZFP fixed accuracy
#   adaptive_experiment.json  the documents' 10-epoch experiment, 3 runs,
#                           synthetic gradients and real weights
# Needs /usr/bin/python3 with numpy; python3-zfpy is installed with
# apt-get when missing (root only; without it the ZFP rows are absent).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-bench}
out=${2:-$src/bench}
corpus=$src/bench/corpus/f32
py=/usr/bin/python3

[ -d "$corpus" ] || { echo "no corpus at $corpus (bench/make_corpus.sh)"; exit 1; }
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target alcm-pack alcm-inspect alcm-unpack \
  alcm-bench-adaptive >/dev/null

if ! $py -c 'import zfpy' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y python3-zfpy >/dev/null 2>&1 ||
      echo "note: apt-get install python3-zfpy failed; no ZFP rows"
  else
    echo "note: python3-zfpy missing and not root; no ZFP rows"
  fi
fi

bench_bin=$(find "$build" -name alcm-bench-adaptive -type f | head -n 1)
echo "== alcm-bench-adaptive (weight tensors, channel axis = last)"
"$bench_bin" "$src/format/predictor_v1.bin" "$corpus"/*.safetensors |
  tee "$out/adaptive_bench.txt"

# Timing-sensitive (CAQ) first, on an otherwise idle machine.
echo "== 10-epoch experiment"
$py "$src/bench/adaptive_rd.py" epochs "$build" \
  "$corpus/mobileface.safetensors" "$out/adaptive_experiment.json"
echo "== rate/distortion through alcm-pack"
$py "$src/bench/adaptive_rd.py" rd "$build" "$corpus" "$out/adaptive_rd.json"
$py "$src/bench/adaptive_report.py" "$out/adaptive_bench.txt" \
  "$out/adaptive_rd.json" "$out/adaptive_experiment.json"
