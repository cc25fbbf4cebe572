#!/usr/bin/env bash
# (f) Hostile inputs: malformed safetensors and .npy files (huge header
# length, overlapping offsets, gap, shape overflow, object dtype, truncated
# data, ...) make alcm-pack exit 2 with a message naming the file, and no
# archive (or temporary file) appears. Bad archives and missing files get
# the right exit codes too.
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

H="$WORK/hostile"
"$PY" "$HELPER" hostile "$H" >"$WORK/hostile.list" || { fail "make_hostile.py hostile"; finish; }
mkdir -p "$WORK/out"

while IFS=$'\t' read -r name why; do
  expect 2 "pack $name ($why)" "$PACK" "$H/$name" -o "$WORK/out/x.alcm"
  if grep -qF "$name" "$WORK/.err"; then pass; else fail "pack $name: message does not name the file"; fi
  if [ -z "$(listing "$WORK/out")" ]; then pass; else fail "pack $name left $(listing "$WORK/out" | tr '\n' ' ')"; rm -rf "$WORK/out"/* "$WORK/out"/.[!.]*; fi
done <"$WORK/hostile.list"

# A good file followed by a bad one: still nothing written.
expect 2 "pack good+bad" "$PACK" "$EXAMPLE" "$H/st_gap.safetensors" -o "$WORK/out/x.alcm"
if [ -z "$(listing "$WORK/out")" ]; then pass; else fail "pack good+bad left output"; fi

# Missing input: an I/O error.
expect 3 "pack a missing file" "$PACK" "$WORK/no-such.safetensors" -o "$WORK/out/x.alcm"
if grep -qF "no-such.safetensors" "$WORK/.err"; then pass; else fail "missing input not named"; fi

# Things that are not archives.
printf 'hello, not an archive\n' >"$WORK/text.alcm"
: >"$WORK/empty.alcm"
for f in text.alcm empty.alcm hostile/st_gap.safetensors; do
  expect 2 "inspect $f" "$INSPECT" "$WORK/$f"
  expect 2 "inspect --verify $f" "$INSPECT" --verify "$WORK/$f"
  expect 2 "unpack $f" "$UNPACK" "$WORK/$f" -o "$WORK/out/y"
  check "unpack $f wrote nothing" test ! -e "$WORK/out/y"
done
expect 3 "inspect a missing file" "$INSPECT" "$WORK/no-such.alcm"
expect 3 "unpack a missing file" "$UNPACK" "$WORK/no-such.alcm" -o "$WORK/out/y"

finish
