#!/usr/bin/env bash
# Installs the dependencies, builds vigie-agent in Release and runs it on the bundled config.
# Then: curl localhost:9465/metrics
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIE_BUILD_TESTS=OFF
cmake --build build-release --target vigie-agent
# The bundled config keeps its state under /var/lib/vigie; without root, use a local folder.
config=config/vigie.yaml
if [ "$(id -u)" -ne 0 ]; then
  mkdir -p build-release/state
  sed "s#state_dir: /var/lib/vigie#state_dir: $PWD/build-release/state#" config/vigie.yaml \
    > build-release/vigie.yaml
  config=build-release/vigie.yaml
  mkdir -p build-release/probes.d
fi
exec build-release/agent/app/vigie-agent --config "$config"
