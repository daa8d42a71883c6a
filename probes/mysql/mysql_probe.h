// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: mysql (MySQL and MariaDB). Uses MariaDB Connector/C's non-blocking API on the agent's
/// loop. Failure reasons: auth, connect, tls, timeout, query_error, expectation.
ProbeFactoryPtr makeMysqlProbeFactory();

}  // namespace vigie::probes
