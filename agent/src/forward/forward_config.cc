// SPDX-License-Identifier: Apache-2.0
#include "forward/forward_config.h"

#include <algorithm>

#include "alert/event.h"

namespace vigie {

std::map<std::string, std::pair<int, int>> itopSeverityDefaults() {
  std::map<std::string, std::pair<int, int>> defaults;
  for (const SeverityLevel& level : severityTable()) {
    defaults[std::string(level.word)] = {level.itop_impact, level.itop_urgency};
  }
  return defaults;
}

bool ForwardingConfig::operator==(const ForwardingConfig& other) const {
  const auto same_target = [](const auto& a, const auto& b) { return a->equals(*b); };
  return std::equal(destinations.begin(), destinations.end(), other.destinations.begin(),
                    other.destinations.end(), same_target) &&
         spool_max_events == other.spool_max_events && spool_max_bytes == other.spool_max_bytes &&
         unwritten_max_events == other.unwritten_max_events &&
         heartbeat_interval == other.heartbeat_interval &&
         reassert_interval == other.reassert_interval && drain_rate == other.drain_rate &&
         backoff_base == other.backoff_base && backoff_cap == other.backoff_cap;
}

}  // namespace vigie
