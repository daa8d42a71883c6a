// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "vigie/probe.h"

namespace vigie::probes {

/// type: nagios. Runs a plugin that follows the Monitoring Plugins guidelines (no shell, its own
/// environment, bounded output) and maps its exit code to the status. Failure reasons: plugin
/// (the plugin said WARNING, CRITICAL or UNKNOWN), timeout, exec, exit_code, signal.
ProbeFactoryPtr makeNagiosProbeFactory();

}  // namespace vigie::probes
