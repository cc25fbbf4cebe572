#!/usr/bin/env bash
# Real out-of-space runs (no fault injection):
#  1. a 192 KiB tmpfs (needs mount(2): root with CAP_SYS_ADMIN; skipped and
#     said so otherwise): alcm-pack of a 300 KB checkpoint over a small
#     archive, and alcm-unpack of that checkpoint over a small file, must
#     exit 3 with a message, keep the previous file byte-identical and
#     leave no temporary file; a small pack into the same tmpfs afterwards
#     succeeds (space was given back);
#  2. /dev/full as standard output: alcm-inspect --json must exit non-zero
#     with a message instead of losing its output silently.
#
#   tests/reliability/enospc.sh PACK UNPACK INSPECT SOURCE-DIR
set -u
if [ $# -lt 4 ]; then
  echo "usage: $0 PACK UNPACK INSPECT SOURCE-DIR" >&2
  exit 64
fi
PACK=$1 UNPACK=$2 INSPECT=$3 SRC=$4
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alcm-enospc.XXXXXX")
MNT="$WORK/mnt"
mounted=0
cleanup() {
  [ "$mounted" -eq 1 ] && umount "$MNT" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=97"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=98"
FAILED=0 PASSED=0
ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $*"; sed 's/^/  stderr: /' "$WORK/err" 2>/dev/null | head -3; }

/usr/bin/python3 "$SRC/tests/cli/make_hostile.py" valid "$WORK" >/dev/null || exit 2
BIG="$WORK/multichunk.safetensors" SMALL="$WORK/f16.safetensors"
"$PACK" -q --codec store "$BIG" -o "$WORK/big.alcm" || exit 2
"$PACK" -q "$SMALL" -o "$WORK/small.alcm" || exit 2

# expect_enospc WHAT TARGET OLD CMD...: must fail with exit 3, keep OLD.
expect_enospc() {
  local what=$1 target=$2 old=$3
  shift 3
  "$@" >/dev/null 2>"$WORK/err" </dev/null
  local rc=$?
  if [ "$rc" -eq 3 ] && grep -qi "space" "$WORK/err"; then ok "$what: exit 3, says no space"; else bad "$what: exit $rc, want 3 and a no-space message"; fi
  if cmp -s "$target" "$old"; then ok "$what: previous file intact"; else bad "$what: previous file changed"; fi
  if [ -z "$(find "$MNT" -name '.*alcmtmp*' -print -quit)" ]; then ok "$what: no temporary file"; else bad "$what: temporary file left"; fi
}

mkdir -p "$MNT"
if mount -t tmpfs -o size=192k tmpfs "$MNT" 2>"$WORK/err"; then
  mounted=1
  echo "tmpfs of 192 KiB mounted at $MNT"
  cp "$WORK/small.alcm" "$MNT/model.alcm"
  expect_enospc "pack 300 KB onto full tmpfs" "$MNT/model.alcm" "$WORK/small.alcm" \
    "$PACK" -q -f --codec store "$BIG" -o "$MNT/model.alcm"
  cp "$SMALL" "$MNT/model.safetensors"
  expect_enospc "unpack 300 KB onto full tmpfs" "$MNT/model.safetensors" "$SMALL" \
    "$UNPACK" -q -f "$WORK/big.alcm" -o "$MNT/model.safetensors"
  if "$PACK" -q -f "$SMALL" -o "$MNT/again.alcm" 2>"$WORK/err" &&
    "$INSPECT" --verify "$MNT/again.alcm" >/dev/null 2>>"$WORK/err"; then
    ok "small pack after the failures fits and verifies (space was freed)"
  else
    bad "small pack after the failures"
  fi
else
  echo "SKIPPED tmpfs part: cannot mount here ($(cat "$WORK/err"))"
fi

"$INSPECT" --json "$WORK/big.alcm" >/dev/full 2>"$WORK/err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -lt 97 ] && [ -s "$WORK/err" ]; then
  ok "inspect --json >/dev/full: exit $rc with a message"
else
  bad "inspect --json >/dev/full: exit $rc (output lost silently?)"
fi
"$INSPECT" "$WORK/big.alcm" >/dev/full 2>"$WORK/err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -lt 97 ] && [ -s "$WORK/err" ]; then
  ok "inspect >/dev/full: exit $rc with a message"
else
  bad "inspect >/dev/full: exit $rc (output lost silently?)"
fi
echo "enospc: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
