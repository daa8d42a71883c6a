// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: http. One HTTP(S) request (redirects followed) through libcurl on the agent's loop,
/// checked for status, version, headers, body and JSON; blackbox_exporter's metric names.
/// Failure reasons: dns, connect, tls_handshake, tls_verify, timeout, http_protocol,
/// redirect_limit, too_large, http_status, http_version, header_regex, body_regex,
/// json_assertion.
ProbeFactoryPtr makeHttpProbeFactory();

}  // namespace vigie::probes
