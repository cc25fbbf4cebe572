#!/bin/sh
# run.sh - ctest driver of kaitai_fixtures (registered by tests/kaitai.cmake).
# usage: run.sh SOURCE_DIR WORK_DIR ALCM_INSPECT
# Parses every fixtures/valid/*.alcm with a parser generated from
# format/alcm.ksy and compares it with `alcm-inspect --json` (compare.js).
# Exit 77 (ctest: skipped) when node or npm is missing.
set -u
src=$1
work=$2
inspect=$3
here=$src/tests/kaitai

if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node not found; install nodejs and npm to run this test"
  exit 77
fi

# A node_modules folder is complete when it holds the three pinned packages.
complete() {
  [ -f "$1/kaitai-struct-compiler/package.json" ] &&
    [ -f "$1/kaitai-struct/package.json" ] && [ -f "$1/yaml/package.json" ]
}

# Use what a developer installed next to package.json (npm ci in
# tests/kaitai); otherwise install into the build tree, once per lockfile.
if complete "$here/node_modules"; then
  modules=$here/node_modules
else
  modules=$work/node_modules
  if ! complete "$modules" ||
     ! cmp -s "$here/package-lock.json" "$work/package-lock.json"; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "SKIP: npm not found; install npm to run this test"
      exit 77
    fi
    mkdir -p "$work" || exit 1
    cp "$here/package.json" "$here/package-lock.json" "$work/" || exit 1
    echo "npm ci in $work"
    (cd "$work" && npm ci --no-audit --no-fund --prefer-offline) || {
      echo "FAIL: npm ci failed (network?); or run 'npm ci' in $here"
      exit 1
    }
  fi
fi

set -- "$src"/fixtures/valid/*.alcm
if [ ! -e "$1" ]; then
  echo "FAIL: no fixtures in $src/fixtures/valid"
  exit 1
fi

exec node "$here/compare.js" --modules "$modules" --ksy "$src/format/alcm.ksy" \
  --gen-dir "$work/generated" --inspect "$inspect" "$@"
