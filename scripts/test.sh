#!/usr/bin/env bash
# Installs the dependencies, then builds and runs the whole test suite twice: a Release build
# with warnings as errors, and an ASan+UBSan build. Set VIGIE_SANITIZE=0 to skip the second.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

run_suite() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@"
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

run_suite build-release -DCMAKE_BUILD_TYPE=Release -DVIGIE_WERROR=ON
if [ "${VIGIE_SANITIZE:-1}" != 0 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DVIGIE_SANITIZE="address;undefined"
fi
