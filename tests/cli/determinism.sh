#!/usr/bin/env bash
# (b) Determinism: the same input and options give the same archive bytes,
# run after run and whatever the thread count.
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

IN="$WORK/in"
"$PY" "$HELPER" valid "$IN" >/dev/null || { fail "make_hostile.py valid"; finish; }

same_archive() { # DESCRIPTION FILE OPTS_A -- OPTS_B
  local what=$1 file=$2
  shift 2
  local a=() b=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  rm -f "$WORK/a.alcm" "$WORK/b.alcm"
  expect 0 "$what: pack A" "$PACK" "${a[@]}" "$file" -o "$WORK/a.alcm"
  expect 0 "$what: pack B" "$PACK" "${b[@]}" "$file" -o "$WORK/b.alcm"
  check "$what: archives identical" cmp "$WORK/a.alcm" "$WORK/b.alcm"
}

same_archive "example twice" "$EXAMPLE" -- 
same_archive "example -T 1 vs -T 2" "$EXAMPLE" -T 1 --chunk-size 4096 -- -T 2 --chunk-size 4096
same_archive "example -T 1 vs -T 4" "$EXAMPLE" -T 1 --chunk-size 65536 -- -T 4 --chunk-size 65536
same_archive "multichunk -T 1 vs -T 2" "$IN/multichunk.safetensors" -T 1 --chunk-size 65536 -- -T 2 --chunk-size 65536
same_archive "multichunk zlib -T 1 vs -T 2" "$IN/multichunk.safetensors" --codec zlib -T 1 --chunk-size 4096 -- --codec zlib -T 2 --chunk-size 4096
same_archive "bf16 twice" "$IN/bf16.safetensors" -- 
same_archive "npy -T 1 vs -T 2" "$IN/f64_fortran.npy" -T 1 -- -T 2

finish
