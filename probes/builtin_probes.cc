// SPDX-License-Identifier: Apache-2.0
// The probe types compiled into the agent. Adding one: a folder under probes/ and a line here.
#include "tcp/tcp_probe.h"
#include "vigie/registry.h"

namespace vigie {

void registerBuiltinProbes(ProbeRegistry& registry) {
  registry.add(probes::makeTcpProbeFactory());
}

}  // namespace vigie
