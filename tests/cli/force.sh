#!/usr/bin/env bash
# (e) -f semantics: without -f, pack and unpack refuse an existing target
# (exit 3) and leave it unchanged; with -f they replace it.
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

"$PY" "$HELPER" valid "$WORK/in" >/dev/null || { fail "make_hostile.py valid"; finish; }
IN="$WORK/in/f32.safetensors"
printf 'precious bytes\n' >"$WORK/keep"

expect 0 "pack" "$PACK" "$IN" -o "$WORK/a.alcm"

cp "$WORK/keep" "$WORK/t1"
expect 3 "pack onto existing file without -f" "$PACK" "$IN" -o "$WORK/t1"
check "pack without -f left the target unchanged" cmp "$WORK/keep" "$WORK/t1"
expect 0 "pack -f onto existing file" "$PACK" -f "$IN" -o "$WORK/t1"
expect 0 "pack -f result verifies" "$INSPECT" --verify "$WORK/t1"
check "pack -f result equals a fresh pack" cmp "$WORK/a.alcm" "$WORK/t1"
expect 0 "pack --force onto existing file" "$PACK" --force "$IN" -o "$WORK/t1"

cp "$WORK/keep" "$WORK/t2"
expect 3 "unpack onto existing file without -f" "$UNPACK" "$WORK/a.alcm" -o "$WORK/t2"
check "unpack without -f left the target unchanged" cmp "$WORK/keep" "$WORK/t2"
expect 0 "unpack -f onto existing file" "$UNPACK" -f "$WORK/a.alcm" -o "$WORK/t2"
check "unpack -f restored the source" cmp "$IN" "$WORK/t2"

cp "$WORK/keep" "$WORK/t3.npy"
expect 3 "unpack --tensor onto existing file without -f" "$UNPACK" "$WORK/a.alcm" --tensor embed -o "$WORK/t3.npy"
check "unpack --tensor without -f left the target unchanged" cmp "$WORK/keep" "$WORK/t3.npy"
expect 0 "unpack --tensor -f onto existing file" "$UNPACK" -f "$WORK/a.alcm" --tensor embed -o "$WORK/t3.npy"
"$PY" "$HELPER" tensor "$IN" embed "$WORK/ref.npy"
check "unpack --tensor -f wrote the tensor" "$PY" "$HELPER" npyeq "$WORK/ref.npy" "$WORK/t3.npy"
rm -f "$WORK/ref.npy"

# Nothing besides what the tests made may be left in the folder.
want=$(printf '%s\n' .err .out a.alcm in keep t1 t2 t3.npy | LC_ALL=C sort)
if [ "$(listing "$WORK")" = "$want" ]; then pass; else fail "stray files: $(listing "$WORK" | tr '\n' ' ')"; fi

finish
