// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>

#include "config/agent_config.h"
#include "vigie/registry.h"

namespace vigie {

/// A configuration and the probe types its probes were built by: the built-in types and the
/// plugins of its agent.plugin_dirs. The registry must outlive the probes (a plugin's code).
struct LoadedConfig {
  std::shared_ptr<const ProbeRegistry> registry;
  AgentConfig config;
};

/// Reads the main config file and its includes once, loads the plugins its agent.plugin_dirs
/// names, validates everything strictly and builds each probe through its type's factory.
/// Throws ConfigError listing every problem found.
LoadedConfig loadConfig(const std::string& path);
/// The same for `vigie-agent --probe NAME`: only the probe `only_probe` is read and built, so
/// the ${ENV} variables and secret files of the other probes and of forwarding need not exist.
LoadedConfig loadConfig(const std::string& path, const std::string& only_probe);

/// The same with the probe types of `registry`; agent.plugin_dirs is read but loads nothing.
AgentConfig loadConfig(const std::string& path, const ProbeRegistry& registry);

}  // namespace vigie
