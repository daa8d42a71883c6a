// SPDX-License-Identifier: Apache-2.0
#include "state/state_store.h"

namespace vigie {

void StateStore::configure(const std::vector<ProbeSpec>& probes) {
  std::map<std::string, ProbeState> next;
  for (const ProbeSpec& spec : probes) {
    auto old = probes_.find(spec.name);
    if (old != probes_.end() && old->second.fingerprint == spec.fingerprint) {
      next.emplace(spec.name, std::move(old->second));
      continue;
    }
    ProbeState state;
    state.name = spec.name;
    state.type = spec.type;
    state.labels = spec.labels;
    state.fingerprint = spec.fingerprint;
    next.emplace(spec.name, std::move(state));
  }
  probes_ = std::move(next);
}

void StateStore::record(const std::string& name, const ProbeResult& result,
                        double duration_seconds, std::chrono::system_clock::time_point when) {
  auto it = probes_.find(name);
  if (it == probes_.end()) {
    return;
  }
  ProbeState& state = it->second;
  state.last_result = result;
  state.last_duration_seconds = duration_seconds;
  state.last_run = when;
  ++state.runs[static_cast<std::size_t>(result.status)];
}

const ProbeState* StateStore::find(const std::string& name) const {
  auto it = probes_.find(name);
  return it == probes_.end() ? nullptr : &it->second;
}

}  // namespace vigie
