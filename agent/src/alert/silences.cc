// SPDX-License-Identifier: Apache-2.0
#include "alert/silences.h"

#include <algorithm>

namespace vigie {

bool Silence::matches(const std::string& name, const Labels& probe_labels) const {
  if (!probe.empty()) {
    return probe == name;
  }
  if (labels.empty()) {
    return false;  // a silence of everything is refused when made; never match by accident
  }
  return std::all_of(labels.begin(), labels.end(), [&probe_labels](const auto& wanted) {
    return std::find(probe_labels.begin(), probe_labels.end(), wanted) != probe_labels.end();
  });
}

bool Silences::remove(const std::string& id) {
  const auto it = std::find_if(silences_.begin(), silences_.end(),
                               [&id](const Silence& silence) { return silence.id == id; });
  if (it == silences_.end()) {
    return false;
  }
  silences_.erase(it);
  return true;
}

const Silence* Silences::covering(const std::string& name, const Labels& labels,
                                  WallTime now) const {
  const Silence* found = nullptr;
  for (const Silence& silence : silences_) {
    if (silence.activeAt(now) && silence.matches(name, labels) &&
        (found == nullptr || silence.ends_at > found->ends_at)) {
      found = &silence;
    }
  }
  return found;
}

std::vector<Silence> Silences::expire(WallTime now) {
  std::vector<Silence> ended;
  auto kept =
      std::stable_partition(silences_.begin(), silences_.end(),
                            [now](const Silence& silence) { return !silence.endedAt(now); });
  ended.assign(std::make_move_iterator(kept), std::make_move_iterator(silences_.end()));
  silences_.erase(kept, silences_.end());
  return ended;
}

}  // namespace vigie
