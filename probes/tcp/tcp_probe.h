// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: tcp. Connects to host:port, optionally completes a TLS handshake, sends a string and
/// waits for a regular expression in the answer. Failure reasons: dns, connect, tls_handshake,
/// tls_verify, send, expect, timeout.
ProbeFactoryPtr makeTcpProbeFactory();

}  // namespace vigie::probes
