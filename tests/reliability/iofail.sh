#!/usr/bin/env bash
# I/O-failure injection over the tools, through iofail_shim.so (LD_PRELOAD).
#
#   tests/reliability/iofail.sh PACK UNPACK SHIM SOURCE-DIR
#
# For alcm-pack (a safetensors file over an existing archive, -f) and
# alcm-unpack (an archive over an existing safetensors file, -f), for each
# of write, pwrite, read, pread, fsync, rename, close and each way to fail
# (EIO, ENOSPC; short transfers and EINTR for read/write calls), first
# count the calls of a clean run, then fail the 1st, 2nd, ... N-th call.
# Every run must:
#   - exit 0 with the target byte-identical to a clean run's output, or
#     exit 2/3 with a message and the previous target byte-identical
#     (one exception: a failed fsync of the folder after the rename, where
#     the new file is already in place and the tool must say so);
#   - leave no temporary file (.*.alcmtmp.*) and no sanitizer report;
#   - fail when the call that failed was one whose failure loses data
#     (any write, pwrite, fsync of the file, or rename).
# Prints one line per tool/call/mode and a total; exit 1 on any failure.
set -u
if [ $# -lt 4 ]; then
  echo "usage: $0 PACK UNPACK SHIM SOURCE-DIR" >&2
  exit 64
fi
PACK=$1 UNPACK=$2 SHIM=$3 SRC=$4
if [ ! -f "$SHIM" ]; then
  echo "$0: no shim at $SHIM" >&2
  exit 2
fi
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alcm-iofail.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# The tools may be ASan builds; the shim then comes before the runtime.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:exitcode=97"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=98"

mkdir -p "$WORK/in" "$WORK/t"
"$PY" "$SRC/tests/cli/make_hostile.py" valid "$WORK/in" >/dev/null || exit 2
NEW="$WORK/in/f32.safetensors"
OLDIN="$WORK/in/f16.safetensors"
"$PACK" -q --chunk-size 4096 "$OLDIN" -o "$WORK/old.alcm" || exit 2
"$PACK" -q --chunk-size 4096 "$NEW" -o "$WORK/new.alcm" || exit 2

FAILED=0 RUNS=0 ERRORS=0 IGNORED=0
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; sed 's/^/  stderr: /' "$WORK/err" | head -3; }

# one_run TOOL OP MODE N: prepare the target, run under the shim, check.
one_run() {
  local tool=$1 op=$2 mode=$3 n=$4 target old want
  rm -rf "$WORK/t" && mkdir -p "$WORK/t"
  if [ "$tool" = pack ]; then
    target="$WORK/t/model.alcm" old="$WORK/old.alcm" want="$WORK/new.alcm"
    cp "$old" "$target"
    set -- "$PACK" -q -f --chunk-size 4096 "$NEW" -o "$target"
  else
    target="$WORK/t/model.safetensors" old="$OLDIN" want="$NEW"
    cp "$old" "$target"
    set -- "$UNPACK" -q -f "$WORK/new.alcm" -o "$target"
  fi
  rm -f "$WORK/log"
  # env after timeout: only the tool itself runs with the shim.
  timeout 60 env ALCM_IOFAIL_OP="$op" ALCM_IOFAIL_N="$n" \
    ALCM_IOFAIL_MODE="$mode" ALCM_IOFAIL_LOG="$WORK/log" LD_PRELOAD="$SHIM" \
    "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  RC=$?
  LOG=$(cat "$WORK/log" 2>/dev/null || echo "calls=0 injected=0 target=none")
  [ "$n" -eq 0 ] && return 0
  RUNS=$((RUNS + 1))
  local what="$tool $op $mode #$n ($LOG)"
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$WORK/err" ||
    [ "$RC" -ge 97 ]; then
    fail "$what: sanitizer report or crash (exit $RC)"
    return
  fi
  if [ -n "$(find "$WORK/t" -name '.*alcmtmp*' -print -quit)" ]; then
    fail "$what: temporary file left behind"
  fi
  case "$RC" in
  0)
    cmp -s "$target" "$want" || fail "$what: exit 0 but the target is not the new output"
    case "$op:$mode:$LOG" in
    *injected=0*) ;;
    *:short:* | *:eintr:*) ;;
    read:* | pread:* | close:*) IGNORED=$((IGNORED + 1)) ;;
    *) fail "$what: a lost $op was not reported" ;;
    esac
    ;;
  2 | 3)
    ERRORS=$((ERRORS + 1))
    [ -s "$WORK/err" ] || fail "$what: exit $RC without a message"
    if cmp -s "$target" "$old"; then
      :
    elif [ "$op" = fsync ] && [[ $LOG == *target=dir* ]] && cmp -s "$target" "$want"; then
      grep -qiE "renamed|in place" "$WORK/err" || fail "$what: folder sync failed after the rename, message does not say the file was replaced"
    else
      fail "$what: exit $RC and the previous target was changed"
    fi
    ;;
  *) fail "$what: exit $RC" ;;
  esac
}

for tool in pack unpack; do
  for op in write pwrite read pread fsync rename close; do
    case $op in
    write | pwrite | read | pread) modes="eio enospc short eintr" ;;
    *) modes="eio enospc" ;;
    esac
    for mode in $modes; do
      one_run "$tool" "$op" "$mode" 0
      count=$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' <<<"$LOG")
      before=$FAILED
      for ((n = 1; n <= count; n++)); do one_run "$tool" "$op" "$mode" "$n"; done
      printf '%-7s %-7s %-7s %4s calls, %s\n' "$tool" "$op" "$mode" "$count" \
        "$([ "$FAILED" -eq "$before" ] && echo ok || echo FAILED)"
    done
  done
done
echo "iofail total: $RUNS injected runs, $ERRORS reported an error, $IGNORED" \
  "harmless failures ignored (read side), $FAILED failed"
# A shim that did not load would count nothing and prove nothing.
[ "$RUNS" -gt 0 ] || { echo "FAIL: no call was ever injected (shim not loaded?)"; exit 1; }
[ "$FAILED" -eq 0 ]
