// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/agent_config.h"
#include "config/section_reader.h"
#include "vigie/config_schema.h"

namespace vigie {

/// Probe keys this file reads, added to the keys a probe accepts.
extern const std::vector<std::string> kProbeAlertingKeys;

/// max_attempts, retry_interval, recovery_attempts, flapping, depends_on of one probe.
void loadProbeAlerting(const SectionReader& reader, const YAML::Node& probe,
                       const std::string& path, ProbeSpec& spec);
/// The top-level `maintenance:` list.
void loadMaintenance(const SectionReader& reader, const YAML::Node& node, AgentConfig& config);
/// The top-level `forwarding:` block.
void loadForwarding(const SectionReader& reader, const YAML::Node& node, AgentConfig& config);
/// Where each probe is written: its key path ("probes[web]") and node.
using ProbeNodes = std::map<std::string, std::pair<std::string, YAML::Node>>;
/// depends_on names declared probes (`declared`: those with errors of their own too, already
/// reported) and has no cycle.
void checkDependencies(const SectionReader& reader, const ProbeNodes& nodes,
                       const std::set<std::string>& declared, const AgentConfig& config);

}  // namespace vigie
