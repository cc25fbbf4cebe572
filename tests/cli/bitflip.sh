#!/usr/bin/env bash
# (c) Bit-flip sweep: flip every byte of a small archive (xor 0x01), one at a
# time. `alcm-inspect --verify` must exit 2 every time, and alcm-unpack must
# fail (exit 2) without leaving any file behind.
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

"$PY" "$HELPER" small "$WORK/small.safetensors" || { fail "make_hostile.py small"; finish; }
expect 0 "pack small" "$PACK" "$WORK/small.safetensors" -o "$WORK/small.alcm"
expect 0 "verify small" "$INSPECT" --verify "$WORK/small.alcm"
size=$(stat -c %s "$WORK/small.alcm" 2>/dev/null || echo 0)
if [ "$size" -gt 0 ] && [ "$size" -lt 8192 ]; then pass; else fail "small archive is $size bytes, want 1..8191"; fi

if [ "$size" -gt 0 ]; then
  start=$(date +%s)
  if "$PY" "$HELPER" sweep "$WORK/small.alcm" "$WORK/small.safetensors" \
    "$INSPECT" "$UNPACK" "$WORK/sweep"; then
    pass
  else
    FAILED=$((FAILED + 1))
  fi
  echo "sweep took $(($(date +%s) - start)) s"
fi

finish
