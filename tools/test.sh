#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite.
# This is the README's test command; .ci/run calls it on a fresh clone.
#
# Usage: tools/test.sh [--build-dir DIR] [--sanitize] [--compiler gcc|clang] [--unit-only]
#   --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build
#   --unit-only  run only the unit tests and the bounded fuzz runs (labels unit, fuzz)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$repo/build"
sanitize=OFF
compiler=gcc
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --sanitize) sanitize=ON; shift ;;
    --compiler) compiler="$2"; shift 2 ;;
    --unit-only) ctest_args+=(-L 'unit|fuzz'); shift ;;
    *) echo "usage: tools/test.sh [--build-dir DIR] [--sanitize] [--compiler gcc|clang] [--unit-only]" >&2
       exit 2 ;;
  esac
done
case "$compiler" in
  gcc) cc=gcc; cxx=g++ ;;
  clang) cc=clang; cxx=clang++ ;;
  *) echo "unknown compiler $compiler" >&2; exit 2 ;;
esac

bash "$repo/tools/install-deps.sh"

fuzz=OFF
[ "$compiler" = clang ] && fuzz=ON
cmake -S "$repo" -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DRINGFTPD_WERROR="${RINGFTPD_WERROR:-ON}" -DRINGFTPD_SANITIZE="$sanitize" \
  -DRINGFTPD_FUZZ="$fuzz"
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 900 -j2 "${ctest_args[@]}"
