// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: dns. Sends one query (name, type, class) with c-ares over UDP, TCP again when the
/// answer is truncated, or TCP only, to a given server or the system's resolvers, and checks the
/// answer as blackbox_exporter's dns prober does. Failure reasons: resolver, connect, timeout,
/// rcode, answer (a record check failed, or the answer is malformed), dnssec.
ProbeFactoryPtr makeDnsProbeFactory();

}  // namespace vigie::probes
