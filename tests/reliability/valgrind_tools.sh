#!/usr/bin/env bash
# The tools under valgrind (memcheck) on the committed fixtures: every
# fixtures/valid/*.alcm through alcm-inspect --verify, alcm-inspect --json
# and alcm-unpack into a fresh temp folder (the stored source files, or
# every tensor as .npy when the archive holds no source file, plus one
# tensor whose dtype .npy cannot hold: the refusal path), and every
# STRIDE-th fixtures/invalid/*.alcm through alcm-inspect --verify.
# A run fails on any memcheck error (invalid read/write, use of
# uninitialised memory, definite leak: --error-exitcode=99), on a signal,
# or on an exit status other than the expected one (0 for valid fixtures,
# 2 "bad input" for invalid ones and for unpacking an archive with nothing
# to restore). Prints one block per failure and "N passed, M failed"; exit
# status 1 if any run failed, 77 (ctest: skipped) when valgrind is not
# installed or the tools carry a sanitizer runtime (ASan and valgrind
# cannot share a process).
#
#   tests/reliability/valgrind_tools.sh INSPECT UNPACK SOURCE-DIR [STRIDE]
#
# STRIDE defaults to 4 (22 of the 85 invalid fixtures); 1 runs them all.
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 INSPECT UNPACK SOURCE-DIR [STRIDE]" >&2
  exit 64
fi
# The unpack runs change folder, so every path is made absolute.
abs() { printf '%s/%s' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")"; }
INSPECT=$(abs "$1") UNPACK=$(abs "$2") SRC=$(cd "$3" && pwd) STRIDE=${4:-4}
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind not installed: skipped"
  exit 77
fi
for t in "$INSPECT" "$UNPACK"; do
  if grep -q -e __asan_init -e __tsan_init -e __msan_init "$t"; then
    echo "$t is built with a sanitizer: skipped (valgrind needs a plain build)"
    exit 77
  fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/alcm-valgrind.XXXXXX")
trap 'cd / && rm -rf "$WORK"' EXIT
VG=(valgrind --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite -q --log-file="$WORK/vg.log")
PASSED=0 FAILED=0

# valgrind 3.19 (Debian 12) cannot read clang 14's DWARF 5 debug info
# ("unhandled dwarf2 abbrev form", "I can't recover") and gives up before
# running anything: that is a tool limit, not a finding, so skip.
for t in "$INSPECT" "$UNPACK"; do
  if ! "${VG[@]}" "$t" --version >/dev/null 2>&1 &&
     grep -q "debuginfo reader" "$WORK/vg.log"; then
    echo "$(valgrind --version) cannot read the debug info of $t: skipped"
    exit 77
  fi
done

# vg_run WHAT EXPECTED CMD...: run CMD under memcheck (stdout to
# $WORK/out, stderr to $WORK/err); it passes when it exits EXPECTED and
# valgrind logged nothing (-q: only errors are logged).
vg_run() {
  local what=$1 want=$2
  shift 2
  rm -f "$WORK/vg.log"
  "${VG[@]}" "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  if [ "$rc" -eq "$want" ] && [ ! -s "$WORK/vg.log" ]; then
    PASSED=$((PASSED + 1))
    return 0
  fi
  FAILED=$((FAILED + 1))
  if [ "$rc" -eq 99 ] || [ -s "$WORK/vg.log" ]; then
    echo "FAIL $what: valgrind reported errors (exit $rc)"
    sed 's/^/  vg: /' "$WORK/vg.log" | head -40
  else
    echo "FAIL $what: exit $rc, expected $want"
  fi
  sed 's/^/  stderr: /' "$WORK/err" | head -3
  return 1
}

# What alcm-unpack must restore from the archive that $WORK/out (its
# alcm-inspect --json) describes, NUL-separated: "sources" when it holds
# source files, else "tensor:NAME" for each tensor (none: unpack refuses).
unpack_plan() {
  "$PY" -c '
import json, sys
doc = json.load(open(sys.argv[1]))
if doc.get("sources"):
    sys.stdout.write("sources\0")
else:
    for e in doc.get("entries", []):
        if e.get("kind") == 1:
            sys.stdout.write("tensor:" + e["name"] + "\0")
' "$WORK/out"
}

n=0
for f in "$SRC"/fixtures/valid/*.alcm; do
  name=$(basename "$f")
  vg_run "$name: alcm-inspect --verify" 0 "$INSPECT" --verify "$f"
  vg_run "$name: alcm-inspect --json" 0 "$INSPECT" --json "$f" || continue
  plan=()
  mapfile -d '' plan < <(unpack_plan)
  n=$((n + 1))
  out="$WORK/unpack$n"
  mkdir "$out"
  # In a fresh folder: the default output paths are relative to it.
  cd "$out" || exit 2
  if [ "${#plan[@]}" -eq 0 ]; then
    # Neither source files nor tensors: unpack must refuse.
    vg_run "$name: alcm-unpack" 2 "$UNPACK" -q "$f"
  elif [ "${plan[0]}" = sources ]; then
    vg_run "$name: alcm-unpack" 0 "$UNPACK" -q "$f"
  else
    # Some dtypes (BF16, ...) have no .npy form and are refused with
    # exit 2. A quick run without valgrind sorts the tensors; valgrind
    # then runs once over all exportable ones and once on a refusal.
    args=() refused=()
    for p in "${plan[@]}"; do
      t=${p#tensor:}
      "$UNPACK" -q -f --tensor "$t" -o "$out/probe.npy" "$f" 2>/dev/null
      case $? in
        0) args+=(--tensor "$t") ;;
        2) refused+=("$t") ;;
        *) FAILED=$((FAILED + 1))
           echo "FAIL $name: alcm-unpack --tensor $t (without valgrind)" ;;
      esac
    done
    rm -f "$out/probe.npy"
    [ "${#args[@]}" -eq 0 ] ||
      vg_run "$name: alcm-unpack ${#args[@]} tensors" 0 "$UNPACK" -q "${args[@]}" "$f"
    [ "${#refused[@]}" -eq 0 ] ||
      vg_run "$name: alcm-unpack --tensor ${refused[0]} (refused)" 2 \
        "$UNPACK" -q --tensor "${refused[0]}" "$f"
  fi
  cd "$WORK" || exit 2
  rm -rf "$out"
done

i=0
for f in "$SRC"/fixtures/invalid/*.alcm; do
  i=$((i + 1))
  [ $(((i - 1) % STRIDE)) -eq 0 ] || continue
  vg_run "invalid/$(basename "$f"): alcm-inspect --verify" 2 \
    "$INSPECT" --verify "$f"
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
