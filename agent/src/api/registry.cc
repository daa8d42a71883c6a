// SPDX-License-Identifier: Apache-2.0
#include "vigie/registry.h"

#include <stdexcept>

namespace vigie {

std::string_view statusName(Status status) {
  switch (status) {
    case Status::Ok:
      return "ok";
    case Status::Warning:
      return "warning";
    case Status::Critical:
      return "critical";
    case Status::Unknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view metricTypeName(MetricType type) {
  return type == MetricType::Counter ? "counter" : "gauge";
}

void ProbeRegistry::add(ProbeFactoryPtr factory) {
  std::string type(factory->type());
  if (factories_.count(type) != 0) {
    throw std::invalid_argument("probe type '" + type + "' is already registered");
  }
  // Checked in full before anything is kept, so a refused type leaves the registry unchanged.
  std::map<std::string, FamilyHandle, std::less<>> added;
  for (const FamilyHandle& family : factory->families()) {
    const std::string where =
        "probe type '" + type + "' declares metric family '" + family->name + "'";
    if (families::agentOwned(family->name)) {
      throw std::invalid_argument(where + ", which only the agent reports");
    }
    const auto known = families_.find(family->name);
    const MetricFamily* earlier = known != families_.end() ? known->second.first.get() : nullptr;
    std::string earlier_type = known != families_.end() ? known->second.second : type;
    if (earlier == nullptr) {
      if (auto same_type = added.find(family->name); same_type != added.end()) {
        earlier = same_type->second.get();
      }
    }
    if (earlier != nullptr && (earlier->help != family->help || earlier->type != family->type)) {
      throw std::invalid_argument(where + " as " + std::string(metricTypeName(family->type)) +
                                  " \"" + family->help + "\", but '" + earlier_type +
                                  "' declared it as " + std::string(metricTypeName(earlier->type)) +
                                  " \"" + earlier->help + "\"");
    }
    added.emplace(family->name, family);
  }
  for (auto& [name, family] : added) {
    families_.try_emplace(name, family, type);
  }
  factories_.emplace(std::move(type), std::move(factory));
}

const ProbeFactory* ProbeRegistry::find(std::string_view type) const {
  auto it = factories_.find(type);
  return it == factories_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ProbeRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories_) {
    names.push_back(name);
  }
  return names;
}

}  // namespace vigie
