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

void ProbeRegistry::add(ProbeFactoryPtr factory) {
  std::string type(factory->type());
  if (factories_.count(type) != 0) {
    throw std::invalid_argument("probe type '" + type + "' is already registered");
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
