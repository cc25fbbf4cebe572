#!/usr/bin/env bash
# (a) Round trips: pack -> inspect -> verify -> unpack -> cmp, on the bundled
# real checkpoint and on generated safetensors (F32/F16/BF16/mixed dtypes/
# multi-chunk) and .npy files (several dtypes, Fortran order, 0-d,
# big-endian, empty, format 2.0). The unpacked file must be byte-identical.
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

IN="$WORK/in"
"$PY" "$HELPER" valid "$IN" >"$WORK/valid.list" || { fail "make_hostile.py valid"; finish; }

# roundtrip FILE [PACK OPTIONS...]
roundtrip() {
  local file=$1 base ext
  shift
  base=$(basename "$file")
  ext=${base##*.}
  local arc="$WORK/rt.alcm" out="$WORK/rt_out.$ext"
  rm -f "$arc" "$out"
  expect 0 "pack $base $*" "$PACK" "$@" "$file" -o "$arc"
  [ "$RC" -eq 0 ] || return 0
  expect 0 "inspect $base" "$INSPECT" "$arc"
  expect 0 "inspect --verify $base" "$INSPECT" --verify "$arc"
  expect 0 "inspect --json $base" "$INSPECT" --json "$arc"
  check "inspect --json $base is JSON" "$PY" -c \
    'import json,sys; json.load(open(sys.argv[1]))' "$WORK/.out"
  expect 0 "unpack $base" "$UNPACK" "$arc" -o "$out"
  check "unpacked $base identical ($*)" cmp "$file" "$out"
}

roundtrip "$EXAMPLE"
roundtrip "$EXAMPLE" --codec zlib
roundtrip "$EXAMPLE" --codec store
roundtrip "$EXAMPLE" --codec zstd --level 19 --chunk-size 65536
roundtrip "$EXAMPLE" -T 2 --chunk-size 4096
while read -r f; do
  roundtrip "$IN/$f"
done <"$WORK/valid.list"
roundtrip "$IN/bf16.safetensors" --codec zlib --chunk-size 4096
roundtrip "$IN/multichunk.safetensors" --chunk-size 65536 -T 2
roundtrip "$IN/multichunk.safetensors" --codec store --chunk-size 4096

# Several inputs in one archive: -o names a directory; every source comes
# back byte-exact under its file name.
expect 0 "pack several inputs" "$PACK" "$EXAMPLE" "$IN/bf16.safetensors" \
  "$IN/f64_fortran.npy" "$IN/scalar0d.npy" -o "$WORK/multi.alcm"
expect 0 "verify several inputs" "$INSPECT" --verify "$WORK/multi.alcm"
mkdir -p "$WORK/multi"
expect 0 "unpack several inputs" "$UNPACK" "$WORK/multi.alcm" -o "$WORK/multi"
for f in "$EXAMPLE" "$IN/bf16.safetensors" "$IN/f64_fortran.npy" "$IN/scalar0d.npy"; do
  check "several inputs: $(basename "$f") identical" cmp "$f" "$WORK/multi/$(basename "$f")"
done

# --tensor NAME: one tensor out as .npy, equal to the values in the source.
"$PACK" "$IN/f32.safetensors" -o "$WORK/t.alcm" >/dev/null 2>&1
for name in layer.0.weight layer.0.bias embed; do
  rm -f "$WORK/t.npy"
  expect 0 "unpack --tensor $name" "$UNPACK" "$WORK/t.alcm" --tensor "$name" -o "$WORK/t.npy"
  "$PY" "$HELPER" tensor "$IN/f32.safetensors" "$name" "$WORK/ref.npy"
  check "--tensor $name equals the source" "$PY" "$HELPER" npyeq "$WORK/ref.npy" "$WORK/t.npy"
done
rm -f "$WORK/t.npy"
expect 1 "unpack --tensor of a missing name (a bad argument)" "$UNPACK" "$WORK/t.alcm" --tensor no.such -o "$WORK/t.npy"
check "no output for a missing tensor" test ! -e "$WORK/t.npy"

# --meta KEY=VALUE is stored and shown by inspect.
expect 0 "pack --meta" "$PACK" --meta user.note=hello-alcm "$IN/f16.safetensors" -o "$WORK/m.alcm"
expect 0 "inspect -v shows metadata" "$INSPECT" -v "$WORK/m.alcm"
check "inspect -v lists user.note" grep -q 'hello-alcm' "$WORK/.out"
expect 0 "inspect --json shows metadata" "$INSPECT" --json "$WORK/m.alcm"
check "inspect --json lists user.note" grep -q 'hello-alcm' "$WORK/.out"

finish
