#!/usr/bin/env bash
# (g) Command line: --help and --version exit 0; unknown options and bad
# arguments exit 1.
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

for tool in "$PACK" "$UNPACK" "$INSPECT"; do
  t=$(basename "$tool")
  expect 0 "$t --help" "$tool" --help
  if [ -s "$WORK/.out" ]; then pass; else fail "$t --help printed nothing on stdout"; fi
  expect 0 "$t --version" "$tool" --version
  if grep -q '[0-9]\.[0-9]' "$WORK/.out"; then pass; else fail "$t --version shows no version"; fi
  expect 1 "$t --no-such-option" "$tool" --no-such-option
  if [ -s "$WORK/.err" ]; then pass; else fail "$t: no message for an unknown option"; fi
  expect 1 "$t without arguments" "$tool"
done

# bad_usage DESCRIPTION ARGS...: alcm-pack exits 1 and writes no archive.
bad_usage() {
  local what=$1
  shift
  rm -f "$WORK/x.alcm"
  expect 1 "$what" "$PACK" "$@"
  if [ ! -e "$WORK/x.alcm" ]; then pass; else fail "$what: wrote an archive"; fi
}
bad_usage "pack -T abc" -T abc "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack --threads -1" --threads -1 "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack --threads 0" --threads 0 "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack --codec nosuch" --codec nosuch "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack --level x" --level x "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack --chunk-size 0" --chunk-size 0 "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack --chunk-size 12Q" --chunk-size 12Q "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack --meta without =" --meta novalue "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack --meta alcm.* key" --meta alcm.created_by=me "$EXAMPLE" -o "$WORK/x.alcm"
bad_usage "pack -o with no value" "$EXAMPLE" -o
# -q: nothing on stdout.
rm -f "$WORK/q.alcm"
expect 0 "pack -q" "$PACK" -q "$EXAMPLE" -o "$WORK/q.alcm"
if [ ! -s "$WORK/.out" ]; then pass; else fail "pack -q printed: $(head -c 200 "$WORK/.out")"; fi
expect 0 "unpack -q" "$UNPACK" -q "$WORK/q.alcm" -o "$WORK/q.safetensors"
if [ ! -s "$WORK/.out" ]; then pass; else fail "unpack -q printed: $(head -c 200 "$WORK/.out")"; fi

expect 1 "inspect --quick without --verify" "$INSPECT" --quick "$EXAMPLE"
expect 1 "unpack with two archives" "$UNPACK" "$EXAMPLE" "$EXAMPLE"

finish
