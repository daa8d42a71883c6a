// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "config/agent_config.h"
#include "runner/probe_runner.h"
#include "vigie/registry.h"

namespace vigie::test {

/// Writes `yaml` to a temporary file and loads it with the built-in probe types.
AgentConfig loadYaml(const std::string& yaml);

/// The first probe of `yaml`, ready to run.
ProbeSpec probeFromYaml(const std::string& yaml);

/// Runs the probe once through the real runner (deadline included) on a private loop.
RunOutcome runSpec(const ProbeSpec& spec);

}  // namespace vigie::test
