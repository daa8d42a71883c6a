// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "state/alert_state.h"
#include "state/probe_spec.h"
#include "state/recorded_result.h"
#include "vigie/probe.h"

namespace vigie {

/// What the agent knows about one probe: identity and the last result.
struct ProbeState {
  std::string name;
  std::string type;
  Labels labels;
  std::string fingerprint;
  std::optional<RecordedResult> last_result;
  double last_duration_seconds = 0;
  std::chrono::system_clock::time_point last_run{};
  /// Runs per Status, indexed by its numeric value.
  std::array<std::uint64_t, 4> runs{};
  /// SOFT/HARD, flapping, maintenance and what receivers were told. Kept by name across
  /// reloads, even when the probe changes, so an open alert is never forgotten.
  AlertState alert;
  AlertPolicy policy;
  std::vector<std::string> depends_on;
};

/// The latest state of every configured probe. Plain storage: alert/ steps the alert states.
/// Owned by the event loop thread: the scheduler
/// writes it, the /metrics handler on the same loop reads it at scrape time.
class StateStore {
 public:
  /// Aligns the store with a new configuration: a probe whose fingerprint is unchanged keeps its
  /// state, others start afresh, removed ones disappear (and so do their metrics).
  void configure(const std::vector<ProbeSpec>& probes);
  /// Keeps the result without its details (those are for `--probe` only), its sample keys
  /// shared with other probes'.
  void record(const std::string& name, ProbeResult result, double duration_seconds,
              std::chrono::system_clock::time_point when);

  /// Puts back an alert state saved before a restart.
  void restoreAlert(const std::string& name, const AlertState& alert);

  const std::map<std::string, ProbeState>& probes() const { return probes_; }
  const ProbeState* find(const std::string& name) const;
  /// For alert/, which steps the alert state it keeps.
  ProbeState* find(const std::string& name);

 private:
  std::map<std::string, ProbeState> probes_;
  SampleLayouts layouts_;
};

}  // namespace vigie
