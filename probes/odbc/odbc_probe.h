// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: odbc. Any unixODBC driver (IBM DB2's on the RHEL hosts) by DSN or connection string.
/// ODBC calls block, so they run on a small shared worker pool; the probe itself returns at its
/// deadline even when a driver ignores its timeouts. Failure reasons: config (the driver
/// manager's own errors, SQLSTATE IM0xx), auth, connect, tls, timeout, query_error, expectation.
ProbeFactoryPtr makeOdbcProbeFactory();

}  // namespace vigie::probes
