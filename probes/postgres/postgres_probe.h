// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: postgres. Connects with libpq's non-blocking API on the agent's loop, runs a query and
/// checks its result. Failure reasons: auth, connect, tls, timeout, query_error, expectation.
ProbeFactoryPtr makePostgresProbeFactory();

}  // namespace vigie::probes
