// SPDX-License-Identifier: Apache-2.0
#include "state/state_store.h"

namespace vigie {

void StateStore::configure(const std::vector<ProbeSpec>& probes) {
  std::map<std::string, ProbeState> next;
  for (const ProbeSpec& spec : probes) {
    auto old = probes_.find(spec.name);
    if (old != probes_.end() && old->second.fingerprint == spec.fingerprint) {
      ProbeState& kept = next.emplace(spec.name, std::move(old->second)).first->second;
      kept.policy = spec.alerting;
      kept.depends_on = spec.depends_on;
      continue;
    }
    ProbeState state;
    if (old != probes_.end()) {
      state.alert = old->second.alert;
    }
    state.policy = spec.alerting;
    state.depends_on = spec.depends_on;
    state.name = spec.name;
    state.type = spec.type;
    state.labels = spec.labels;
    state.fingerprint = spec.fingerprint;
    next.emplace(spec.name, std::move(state));
  }
  probes_ = std::move(next);
}

void StateStore::record(const std::string& name, ProbeResult result, double duration_seconds,
                        std::chrono::system_clock::time_point when) {
  auto it = probes_.find(name);
  if (it == probes_.end()) {
    return;
  }
  ProbeState& state = it->second;
  ++state.runs[static_cast<std::size_t>(result.status)];
  state.last_result = layouts_.record(std::move(result));
  state.last_duration_seconds = duration_seconds;
  state.last_run = when;
}

void StateStore::restoreAlert(const std::string& name, const AlertState& alert) {
  if (auto it = probes_.find(name); it != probes_.end()) {
    it->second.alert = alert;
  }
}

const ProbeState* StateStore::find(const std::string& name) const {
  auto it = probes_.find(name);
  return it == probes_.end() ? nullptr : &it->second;
}

ProbeState* StateStore::find(const std::string& name) {
  auto it = probes_.find(name);
  return it == probes_.end() ? nullptr : &it->second;
}

}  // namespace vigie
