#!/usr/bin/env bash
# (d) Truncation: an archive cut short at any of a sample of offsets is
# rejected with exit 2 and a message, by inspect, inspect --verify and
# unpack; unpack leaves no output behind.
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

expect 0 "pack example" "$PACK" --chunk-size 65536 "$EXAMPLE" -o "$WORK/full.alcm"
size=$(stat -c %s "$WORK/full.alcm" 2>/dev/null || echo 0)
offsets="0 1 7 8 16 31 32 33 63 64 65 127 128"
for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
  offsets="$offsets $((size * k / 20))"
done
offsets="$offsets $((size - 49)) $((size - 48)) $((size - 47)) $((size - 8)) $((size - 1))"

mkdir -p "$WORK/out"
for off in $offsets; do
  if [ "$off" -lt 0 ] || [ "$off" -ge "$size" ]; then continue; fi
  head -c "$off" "$WORK/full.alcm" >"$WORK/cut.alcm"
  expect 2 "truncated at $off: inspect" "$INSPECT" "$WORK/cut.alcm"
  if [ -s "$WORK/.err" ]; then pass; else fail "truncated at $off: no message from inspect"; fi
  expect 2 "truncated at $off: inspect --verify" "$INSPECT" --verify "$WORK/cut.alcm"
  if [ -s "$WORK/.err" ]; then pass; else fail "truncated at $off: no message from inspect --verify"; fi
  expect 2 "truncated at $off: unpack" "$UNPACK" "$WORK/cut.alcm" -o "$WORK/out/x.safetensors"
  if [ -s "$WORK/.err" ]; then pass; else fail "truncated at $off: no message from unpack"; fi
  if [ -z "$(listing "$WORK/out")" ]; then pass; else fail "truncated at $off: unpack left $(listing "$WORK/out")"; rm -f "$WORK/out"/*; fi
done

finish
