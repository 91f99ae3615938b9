#!/usr/bin/env bash
# Installs the Debian packages Malipo needs to build, run and test, when any is missing.
# Runs apt-get only when something is missing, so a second `make` costs a dpkg query.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config ccache
  libpoco-dev libboost-dev libboost-filesystem-dev libyaml-cpp-dev libssl-dev
  libhpdf-dev libmstch-dev libphonenumber-dev libpq-dev libsqlite3-dev
  libgtest-dev libgmock-dev libharfbuzz-dev libfribidi-dev libicu-dev libmimalloc-dev
  fonts-dejavu-core fonts-noto-core fonts-symbola)
TEST_PKGS=(clang-format postgresql-15 qpdf poppler-utils python3-reportlab wrk curl procps python3 chromium nginx)
# Node.js for the browser tests: the machine's own if present, Debian's otherwise.
if [ "${1:-}" = "--test" ] && ! command -v node >/dev/null; then TEST_PKGS+=(nodejs npm); fi

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
