#!/usr/bin/env bash
# The slow-receiver delivery test with the 3 s receiver the suite leaves out (it alone takes
# minutes to drain): receivers of 0.3, 1 and 3 s at once, as three destinations of one agent,
# 20 probes failing together and 4 flapping. Prints the drain time and the events per receiver.
#   bench/delivery_bench.sh [AGENT] [DELAYS]   (defaults: build-release's agent, 0.3,1,3)
set -euo pipefail
cd "$(dirname "$0")/.."
agent=${1:-build-release/agent/app/vigie-agent}
delays=${2:-0.3,1,3}
exec python3 tests/integration/test_delivery.py --agent "$agent" --delays "$delays" \
  DeliveryTest.test_slow_receivers_get_every_transition_of_bursts_and_flapping
