// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "runner/probe_runner.h"
#include "state/probe_spec.h"

namespace vigie {

/// Runs one probe once on a private event loop, as `vigie-agent --probe NAME` does.
RunOutcome runOnce(const ProbeSpec& spec);

/// The Nagios plugin form of an outcome: "STATUS - text | perfdata" then the detail lines.
/// The exit code that goes with it is the numeric Status.
std::string formatNagios(const ProbeSpec& spec, const RunOutcome& outcome);

}  // namespace vigie
