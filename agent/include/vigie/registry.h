// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/probe.h"

namespace vigie {

/// Probe types by name. Built-in types and plugins register here the same way.
class ProbeRegistry {
 public:
  /// Throws std::invalid_argument when the type name is already taken, or when the type declares
  /// a metric family that an earlier type declared with another help or type, or that the agent
  /// reports itself (probe_success, probe_duration_seconds, vigie_probe_*).
  void add(ProbeFactoryPtr factory);
  /// nullptr when no such type.
  const ProbeFactory* find(std::string_view type) const;
  /// Sorted, for error messages and --help.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, ProbeFactoryPtr, std::less<>> factories_;
  /// Every family declared so far, by name, and the type that declared it first.
  std::map<std::string, std::pair<FamilyHandle, std::string>, std::less<>> families_;
};

/// Registers every probe type compiled into the agent (probes/builtin_probes.cc).
void registerBuiltinProbes(ProbeRegistry& registry);

}  // namespace vigie
