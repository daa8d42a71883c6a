#!/usr/bin/env bash
# Runs every libFuzzer harness of BUILD_DIR for SECONDS each, starting from the committed seeds
# (tests/fuzz/corpus/<harness>/, never written to: new inputs go to a scratch corpus). Fails on
# the first crash, leak, timeout or out-of-memory; the input that did it is kept under
# BUILD_DIR/fuzz-artifacts/ and named in the output.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [HARNESS...]
set -euo pipefail
build=$1
seconds=${2:-15}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")" && pwd)
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(config_loader perfdata http_request web_config)
fi
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
for harness in "${harnesses[@]}"; do
  scratch="$build/fuzz-corpus/$harness"
  mkdir -p "$scratch"
  echo "== fuzz_$harness for ${seconds}s"
  # -timeout: one input taking longer is a hang (a reload would freeze the agent as long);
  # -rss_limit_mb: one input needing more is a memory bomb.
  "$build/tests/fuzz/fuzz_$harness" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/$harness-" \
    "$scratch" "$here/corpus/$harness" 2>&1 |
    grep -vE '^#[0-9]|NEW_FUNC|^"|recommended dictionary' || {
      echo "fuzz_$harness failed; reproduce with: $build/tests/fuzz/fuzz_$harness $artifacts/$harness-*" >&2
      exit 1
    }
done
