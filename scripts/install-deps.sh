#!/usr/bin/env bash
# Install the build and test dependencies of ALCM on Debian 12 (clang and
# libclang-rt-14-dev: the clang -Werror build and the libFuzzer harnesses;
# valgrind: ctest reliability_valgrind).
# Idempotent: apt runs only when a package is missing, so a second run is a
# few dpkg queries. Needs root, or sudo for the apt step.
set -euo pipefail

PACKAGES=(build-essential cmake pkg-config libzstd-dev libxxhash-dev
          libyaml-dev libcriterion-dev zlib1g-dev libjansson-dev python3
          python3-numpy nodejs npm xxd clang libclang-rt-14-dev
          python3-torch valgrind)

# A package counts as present if dpkg has it installed. nodejs and npm may
# also come from another source (e.g. NodeSource's nodejs, which provides
# and conflicts with Debian's npm), so for them a working command suffices.
present() {
  case "$1" in
    nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
    npm) command -v npm >/dev/null 2>&1 && return 0 ;;
  esac
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = \
    "install ok installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
  present "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=(env)
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo env)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
# sudo resets the environment, so the frontend is passed through env.
"${SUDO[@]}" DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
