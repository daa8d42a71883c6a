// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "plugins/plugin_loader.h"
#include "vigie/config_node.h"

namespace vigie {

/// YAML::Load on a short-lived thread, so that yaml-cpp's many small nodes live in their own
/// malloc arena: interleaved with the long-lived probe objects in the main arena they would pin
/// tens of MB of freed pages with 10,000 probes (loadConfig trims them once parsing is over).
/// Throws what YAML::Load throws.
YAML::Node parseYamlInOwnArena(const std::string& text);

/// agent.plugin_dirs of the file at `config_path`, by a small pre-pass: the plugins must be
/// loaded before the probes can be validated. A file that cannot be read or parsed gives no
/// folders; loadConfig() then reports it with its position.
plugins::PluginDirs readPluginDirs(const std::string& config_path);

/// The vigie-owned copy of `node` (for FieldType::Node values), each node located in `file`.
ConfigNode toConfigNode(const YAML::Node& node, const std::string& file);

}  // namespace vigie
