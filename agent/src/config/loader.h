// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "config/agent_config.h"
#include "vigie/registry.h"

namespace vigie {

/// Reads the main config file and its includes, validates everything strictly and builds each
/// probe through its type's factory. Throws ConfigError listing every problem found.
AgentConfig loadConfig(const std::string& path, const ProbeRegistry& registry);

}  // namespace vigie
