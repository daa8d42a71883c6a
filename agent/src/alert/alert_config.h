// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/agent_config.h"
#include "vigie/config_schema.h"

namespace vigie {

/// The loader's services lent to the alerting sections, so they report issues in the same
/// `FILE:LINE:COL: key.path: message` form and convert values the same way.
struct ConfigReader {
  std::function<std::optional<ConfigValue>(const YAML::Node&, const std::string& path, FieldType)>
      convert;
  std::function<void(const YAML::Node&, const std::string& path, const std::string& message)>
      report;
  /// Reports unknown keys; false when the node is not a mapping.
  std::function<bool(const YAML::Node&, const std::string& path,
                     const std::vector<std::string>& allowed)>
      check_mapping;
  /// Reads `key` or `key_file` (a file's content) as a secret; empty when neither is set.
  std::function<std::string(const YAML::Node& parent, const std::string& path,
                            const std::string& key)>
      secret;
};

/// Probe keys this file reads, added to the keys a probe accepts.
extern const std::vector<std::string> kProbeAlertingKeys;

/// max_attempts, retry_interval, recovery_attempts, flapping, depends_on of one probe.
void loadProbeAlerting(const ConfigReader& reader, const YAML::Node& probe, const std::string& path,
                       ProbeSpec& spec);
/// The top-level `maintenance:` list.
void loadMaintenance(const ConfigReader& reader, const YAML::Node& node, AgentConfig& config);
/// The top-level `forwarding:` block.
void loadForwarding(const ConfigReader& reader, const YAML::Node& node, AgentConfig& config);
/// Where each probe is written: its key path ("probes[3]") and node.
using ProbeNodes = std::map<std::string, std::pair<std::string, YAML::Node>>;
/// depends_on names existing probes and has no cycle.
void checkDependencies(const ConfigReader& reader, const ProbeNodes& nodes,
                       const AgentConfig& config);

}  // namespace vigie
