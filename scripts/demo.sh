#!/usr/bin/env bash
# Demo: build ALCM and round-trip the bundled real checkpoint
# (examples/emotion.safetensors) through pack, inspect, verify and unpack.
# Prints each command and its output; ends with "demo: OK".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/install-deps.sh

BUILD="$ROOT/build"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DALCM_BUILD_TESTS=OFF \
  >/dev/null
cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" \
  --target alcm-pack alcm-unpack alcm-inspect >/dev/null

EXAMPLE="$ROOT/examples/emotion.safetensors"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alcm-demo.XXXXXX")
trap 'cd / && rm -rf "$WORK"' EXIT

run() {
  echo "\$ $*"
  "$@"
  echo
}

cd "$WORK"
echo "demo: working in $WORK"
echo
run "$BUILD/alcm-pack" "$EXAMPLE" -o emotion.alcm
run ls -l "$EXAMPLE" emotion.alcm
run "$BUILD/alcm-inspect" emotion.alcm
run "$BUILD/alcm-inspect" --verify emotion.alcm
run "$BUILD/alcm-unpack" emotion.alcm -o restored.safetensors
run cmp "$EXAMPLE" restored.safetensors
echo "demo: OK"
