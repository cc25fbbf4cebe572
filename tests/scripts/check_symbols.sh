#!/usr/bin/env bash
# Every symbol the shared library exports must start with alcm_
# (libdeflate's symbol_prefix_test). Usage: check_symbols.sh libalcm.so
set -euo pipefail
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | grep -v '^alcm_' || true)
count=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/' | wc -l)
if [ -n "$bad" ]; then
  echo "exported symbols without the alcm_ prefix:"; echo "$bad"
  echo "0 passed, 1 failed"; exit 1
fi
echo "$count exported symbols, all prefixed alcm_"
echo "1 passed, 0 failed"
