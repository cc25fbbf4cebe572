#!/usr/bin/env bash
# Every file of the hostile corpus must be rejected by alcm-pack with exit
# 2, a message naming the file, no output, no canary, and a max RSS at most
# 12 MiB above that of `alcm-pack --version` (the program's own footprint:
# ~2.4 MiB in a release build, ~14 MiB under ASan, whose shadow memory and
# instrumented code would otherwise eat a fixed bound).
set -u
PACK=$1 SRC=$3
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/alcm-hostile.XXXXXX")
trap 'rm -rf "$W"' EXIT
P=0 F=0
CANARY="$W/canary"
"$PY" "$SRC/tests/importers/make_hostile.py" "$W/in" "$CANARY" || { echo "generator failed"; exit 1; }
/usr/bin/time -f %M -o "$W/rss" "$PACK" --version >/dev/null 2>&1
LIMIT=$(($(tail -1 "$W/rss") + 12288))
for f in "$W"/in/*; do
  n=$(basename "$f")
  /usr/bin/time -f %M -o "$W/rss" "$PACK" -q "$f" -o "$W/out.alcm" 2> "$W/err"
  rc=$?
  rss=$(tail -1 "$W/rss")
  if [ $rc -ne 2 ]; then F=$((F + 1)); echo "FAIL: $n: exit $rc"; sed 's/^/  /' "$W/err"
  elif ! grep -q "$n" "$W/err"; then F=$((F + 1)); echo "FAIL: $n: message does not name the file"
  elif [ -e "$W/out.alcm" ]; then F=$((F + 1)); echo "FAIL: $n: output created"
  elif [ "$rss" -gt "$LIMIT" ]; then F=$((F + 1)); echo "FAIL: $n: max RSS ${rss} KiB (limit $LIMIT)"
  else P=$((P + 1)); fi
done
if [ -e "$CANARY" ]; then F=$((F + 1)); echo "FAIL: canary created"; else P=$((P + 1)); fi
echo "$P passed, $F failed"
[ "$F" -eq 0 ]
