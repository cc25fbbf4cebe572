#!/usr/bin/env bash
# pack -> unpack -> compare for every input form: cmp for the byte-exact
# ones (.npy, .pt, safetensors, folder files), check.py for .npz and for
# loading the results with numpy / torch.
set -u
PACK=$1 UNPACK=$2 SRC=$3
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/alcm-imp.XXXXXX")
trap 'rm -rf "$W"' EXIT
P=0 F=0
ok() { P=$((P + 1)); }
bad() { F=$((F + 1)); echo "FAIL: $*"; }
"$PY" "$SRC/tests/importers/make_inputs.py" "$W/in" || { echo "generator failed"; exit 1; }
mkdir -p "$W/out"
for f in "$W"/in/npy/*.npy "$W"/in/pt/*.pt "$W"/in/npz/*.npz; do
  n=$(basename "$f")
  if ! "$PACK" -q "$f" -o "$W/out/$n.alcm" || ! "$UNPACK" -q "$W/out/$n.alcm" -o "$W/out/$n"; then
    bad "$n: pack/unpack"; continue
  fi
  case $n in
    *.npz) "$PY" "$SRC/tests/importers/check.py" npz "$f" "$W/out/$n" && ok || bad "$n: arrays differ" ;;
    *) cmp -s "$f" "$W/out/$n" && ok || bad "$n: not byte-identical" ;;
  esac
  case $n in
    *.pt) "$PY" "$SRC/tests/importers/check.py" pt "$f" "$W/out/$n" && ok || bad "$n: torch load" ;;
  esac
done
# The folder: every file back, byte-exact except .npz (arrays compared).
"$PACK" -q "$W/in/folder" -o "$W/out/folder.alcm" && "$UNPACK" -q "$W/out/folder.alcm" -o "$W/out/folder" && ok || bad "folder: pack/unpack"
(cd "$W/in/folder" && find . -type f | sort) > "$W/a.lst"
(cd "$W/out/folder" && find . -type f | sort) > "$W/b.lst"
cmp -s "$W/a.lst" "$W/b.lst" && ok || bad "folder: file lists differ"
while read -r rel; do
  case $rel in
    *.npz) "$PY" "$SRC/tests/importers/check.py" npz "$W/in/folder/$rel" "$W/out/folder/$rel" && ok || bad "folder $rel" ;;
    *) cmp -s "$W/in/folder/$rel" "$W/out/folder/$rel" && ok || bad "folder $rel" ;;
  esac
done < "$W/a.lst"
# Partial unpack: globs to .npy and to one safetensors file.
"$UNPACK" -q "$W/out/block.pt.alcm" --tensor 'block.pt:mlp.*' --format safetensors -o "$W/out/sel.safetensors" &&
  "$PY" "$SRC/tests/importers/check.py" st "$W/out/sel.safetensors" 4 && ok || bad "--tensor glob to safetensors"
"$UNPACK" -q "$W/out/cnn.pt.alcm" --tensor 'cnn.pt:conv1.weight' -o "$W/out/conv1.npy" &&
  "$PY" "$SRC/tests/importers/check.py" npy-vs-pt "$W/out/conv1.npy" "$W/in/pt/cnn.pt" conv1.weight && ok || bad "--tensor to npy"
"$UNPACK" -q "$W/out/folder.alcm" --tensor 'model.*' --tensor lm_head.weight -o "$W/out/sel" && [ -f "$W/out/sel/lm_head.weight.npy" ] && ok || bad "--tensor globs to npy dir"
"$UNPACK" -q "$W/out/cnn.pt.alcm" --tensor 'nope*' -o "$W/out/x" 2>/dev/null; [ $? -eq 1 ] && ok || bad "unmatched glob is a usage error"
echo "$P passed, $F failed"
[ "$F" -eq 0 ]
