// SPDX-License-Identifier: Apache-2.0
#include "state/state_store.h"

#include <string_view>

namespace vigie {

namespace {

std::vector<std::pair<std::string, float>> phasesOf(const std::vector<Sample>& samples) {
  constexpr std::string_view kSuffix = "_duration_seconds";
  std::vector<std::pair<std::string, float>> phases;
  for (const Sample& sample : samples) {
    const std::string& name = sample.name();
    if (name.size() < kSuffix.size() ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    for (const auto& [label, value] : sample.labels) {
      if (label == "phase") {
        phases.emplace_back(value, static_cast<float>(sample.value));
      }
    }
  }
  return phases;
}

}  // namespace

void ProbeState::addHistory(HistoryEntry entry) {
  if (history.size() >= kHistoryEntries) {
    history.erase(history.begin());
  }
  history.push_back(std::move(entry));
}

void StateStore::configure(const std::vector<ProbeSpec>& probes) {
  std::map<std::string, ProbeState> next;
  for (const ProbeSpec& spec : probes) {
    auto old = probes_.find(spec.name);
    if (old != probes_.end() && old->second.fingerprint == spec.fingerprint) {
      ProbeState& kept = next.emplace(spec.name, std::move(old->second)).first->second;
      kept.policy = spec.alerting;
      kept.depends_on = spec.depends_on;
      kept.runbook_url = spec.runbook_url;
      kept.instructions = spec.instructions;
      continue;
    }
    ProbeState state;
    if (old != probes_.end()) {
      // Same name: the same alert for people, whatever changed in its settings.
      state.alert = old->second.alert;
      state.acknowledgement = std::move(old->second.acknowledgement);
      state.history = std::move(old->second.history);
    }
    state.runbook_url = spec.runbook_url;
    state.instructions = spec.instructions;
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
  RecentResult recent{when,
                      result.status,
                      static_cast<float>(duration_seconds),
                      result.reason,
                      result.message,
                      phasesOf(result.samples),
                      std::move(result.details)};
  if (!state.recent.empty() && state.recent.back().status == Status::Ok) {
    state.recent.back().details.clear();
    state.recent.back().details.shrink_to_fit();
  }
  if (state.recent.size() >= kRecentResults) {
    state.recent.erase(state.recent.begin());
  }
  state.recent.push_back(std::move(recent));
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
