#!/usr/bin/env bash
# Longer fuzzing than the 15 s per harness of `VIGIE_FUZZ=1 scripts/test.sh`: builds the clang
# harnesses and runs each for SECONDS (default 600). New interesting inputs stay in
# build-fuzz/fuzz-corpus/; copy the ones worth keeping as seeds to tests/fuzz/corpus/<harness>/
# (a crash only once it is fixed).
#   bench/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift $(( $# >= 1 ? 1 : 0 ))
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
  -DVIGIE_BUILD_TESTS=OFF -DVIGIE_FUZZ=ON -DVIGIE_SANITIZE="address;fuzzer-no-link"
cmake --build build-fuzz -j "$(nproc)" --target fuzz_all
tests/fuzz/run.sh build-fuzz "$seconds" "$@"
