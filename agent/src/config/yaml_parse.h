// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "vigie/config_node.h"

namespace vigie {

/// YAML::Load on a short-lived thread, so that yaml-cpp's many small nodes live in their own
/// malloc arena: interleaved with the long-lived probe objects in the main arena they would pin
/// tens of MB of freed pages with 10,000 probes (loadConfig trims them once parsing is over).
/// That arena gives its pages back only if frees coalesce (the agent disables fastbins, see
/// main.cc): malloc_trim never trims the top chunk of a non-main arena.
/// Throws what YAML::Load throws.
YAML::Node parseYamlInOwnArena(const std::string& text);

/// A key written twice in one mapping: yaml-cpp keeps both pairs and `node[key]` answers the
/// first, so the second would be ignored without a word.
struct DuplicateKey {
  std::string key;
  YAML::Mark first;
  YAML::Mark second;
};

/// Every duplicate key in the mappings under `root` (an explicit stack: no recursion).
std::vector<DuplicateKey> findDuplicateKeys(const YAML::Node& root);

/// The vigie-owned copy of `node` (for FieldType::Node values), each node located in `file`.
ConfigNode toConfigNode(const YAML::Node& node, const std::string& file);

}  // namespace vigie
