# shellcheck shell=bash disable=SC2034
# Shared by the CLI tests: sourced, not run. Each test is invoked by ctest
# (tests/cli.cmake) as
#   bash tests/cli/<test>.sh PACK UNPACK INSPECT SOURCE_DIR
# and ends by calling finish, which prints "N passed, M failed" and sets the
# exit status.
set -u

if [ $# -lt 4 ]; then
  echo "usage: $0 ALCM-PACK ALCM-UNPACK ALCM-INSPECT SOURCE-DIR" >&2
  exit 64
fi
PACK=$1
UNPACK=$2
INSPECT=$3
SRC=$4
PY=/usr/bin/python3 # the Debian interpreter, which has numpy
HELPER="$SRC/tests/cli/make_hostile.py"
EXAMPLE="$SRC/examples/emotion.safetensors"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/alcm-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Sanitizer failures get their own exit codes so they can never pass for a
# tool's own exit status 1 or 2.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=97"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=98"

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); }
fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL: $*"
  if [ -s "$WORK/.err" ]; then sed 's/^/  stderr: /' "$WORK/.err" | head -5; fi
}

# run CMD...: run a command with a time limit; sets RC, output in
# $WORK/.out and $WORK/.err. A sanitizer report is always a failure.
run() {
  timeout 120 "$@" >"$WORK/.out" 2>"$WORK/.err" </dev/null
  RC=$?
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$WORK/.err"; then
    echo "FAIL: sanitizer report from: $*"
    sed 's/^/  /' "$WORK/.err" | head -30
    FAILED=$((FAILED + 1))
  fi
}

# expect WANT_RC DESCRIPTION CMD...: run and check the exit status.
expect() {
  local want=$1 what=$2
  shift 2
  run "$@"
  if [ "$RC" -eq "$want" ]; then pass; else fail "$what: exit $RC, want $want: $*"; fi
}

# check DESCRIPTION CMD...: a condition that must hold (exit 0), quietly.
check() {
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then pass; else fail "$what: $*"; fi
}

# listing DIR: the names in DIR, hidden ones too, sorted; used to check that
# a failed command left no output or temporary file behind.
listing() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort; }

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}
