// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "state/alert_state.h"
#include "state/probe_spec.h"
#include "state/recorded_result.h"
#include "vigie/probe.h"

namespace vigie {

/// One of a probe's recent results, as the console shows it.
struct RecentResult {
  WallTime at{};
  Status status = Status::Unknown;
  float duration_seconds = 0;
  std::string reason;
  std::string message;
  /// From the probe_*_duration_seconds{phase=...} samples, in their order.
  std::vector<std::pair<std::string, float>> phases;
  /// The `--probe` lines: kept for a failing result and for the newest one only (memory).
  std::vector<std::string> details;
};

/// "Seen, someone is on it": lasts until the probe recovers or leaves the configuration.
struct Acknowledgement {
  std::string author;
  std::string comment;
  WallTime at{};
};

/// One line of a probe's alert history (docs/API.md, `history`).
struct HistoryEntry {
  WallTime at{};
  std::string kind;  ///< transition, acknowledged, unacknowledged, silenced, run, delivered...
  std::string text;
  std::string author;
  std::string destination;
  std::string outcome;
};

/// Results and history entries kept per probe: bounded, since 10,000 probes keep them.
inline constexpr std::size_t kRecentResults = 20;
inline constexpr std::size_t kHistoryEntries = 100;

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
  std::string runbook_url;
  std::string instructions;
  /// Oldest first, at most kRecentResults.
  std::vector<RecentResult> recent;
  /// Oldest first, at most kHistoryEntries.
  std::vector<HistoryEntry> history;
  std::optional<Acknowledgement> acknowledgement;

  void addHistory(HistoryEntry entry);
};

/// The latest state of every configured probe. Plain storage: alert/ steps the alert states.
/// Owned by the event loop thread: the scheduler
/// writes it, the /metrics handler on the same loop reads it at scrape time.
class StateStore {
 public:
  /// Aligns the store with a new configuration: a probe whose fingerprint is unchanged keeps its
  /// state, others start afresh, removed ones disappear (and so do their metrics).
  void configure(const std::vector<ProbeSpec>& probes);
  /// Keeps the result with its sample keys shared with other probes', and a bounded summary of
  /// it (with its details) among the probe's recent results.
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
