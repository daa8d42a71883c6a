#!/usr/bin/env bash
# Installs the dependencies, then builds and runs the whole test suite three times: a Release
# build with warnings as errors, an ASan+UBSan build and a TSan build. Set VIGIE_SANITIZE=0 to
# skip the sanitizer builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

# run_suite DIR [CTEST_EXCLUDE_REGEX] -- CMAKE_ARGS...
run_suite() {
  local dir=$1 exclude=$2
  shift 3
  # Tests on explicitly: scripts/run.sh configures build-release without them, and a cached
  # VIGIE_BUILD_TESTS=OFF would otherwise leave a suite that finds nothing to run.
  cmake -S . -B "$dir" -G Ninja -DVIGIE_BUILD_TESTS=ON "$@"
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$jobs" ${exclude:+-E "$exclude"})
}

run_suite build-release "" -- -DCMAKE_BUILD_TYPE=Release -DVIGIE_WERROR=ON
# Fuzzing: a clang build of the libFuzzer harnesses only, each run VIGIE_FUZZ_SECONDS (15) from
# the committed seeds (bench/fuzz.sh runs them longer). Opt-in (VIGIE_FUZZ=1) until the clang
# build of the whole agent is part of CI: it doubles the suite's build time on two cores.
if [ "${VIGIE_FUZZ:-0}" != 0 ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DVIGIE_BUILD_TESTS=OFF -DVIGIE_FUZZ=ON \
    -DVIGIE_SANITIZE="address;fuzzer-no-link"
  cmake --build build-fuzz -j "$jobs" --target fuzz_all
  tests/fuzz/run.sh build-fuzz "${VIGIE_FUZZ_SECONDS:-15}"
fi
if [ "${VIGIE_SANITIZE:-1}" != 0 ]; then
  # What the sanitizers cannot tell more about than the Release suite: the layer checks compile
  # headers (the same ones whatever the flags) and the packaging tests check shipped files
  # (samples, rules, units, the Ansible role) with the agent only as a reader.
  not_code='^build\.layers\.|^packaging\.|^integration\.(systemd|prometheus)$'
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
  run_suite build-asan "$not_code" -- -DCMAKE_BUILD_TYPE=Debug -DVIGIE_SANITIZE="address;undefined"
  unset ASAN_OPTIONS UBSAN_OPTIONS
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  # The ODBC tests leave workers blocked in a driver call on purpose, and those workers are
  # never joined (a stuck driver must not hold up exit): TSan then reports the drivers' and
  # OpenSSL's exit-time teardown, inside uninstrumented libraries, racing them.
  # The iTop and SSO kits' tests are left to the first two suites: the adapter and the scenario
  # probe run on the loop's one thread, and the kits' start-up (iTop: 40 s cold) would dominate.
  run_suite build-tsan "$not_code|^OdbcProbe\\.|^integration\\.itop\$|^probes\\.scenario\$" -- \
    -DCMAKE_BUILD_TYPE=Debug -DVIGIE_SANITIZE=thread
fi
