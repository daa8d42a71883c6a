// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alert/event.h"
#include "alert/maintenance.h"
#include "alert/silences.h"
#include "state/state_store.h"

namespace vigie {

/// What one probe result changed: the alert state to keep and what receivers must be told.
struct AlertUpdate {
  std::string probe;
  /// Set when the alert state changed and must be persisted.
  std::optional<AlertState> state;
  /// Empty when nothing is to be told (a first result, a SOFT attempt, flapping history).
  std::vector<Event> events;
  /// How soon the probe must run again: its state is SOFT and it has a retry_interval.
  std::optional<std::chrono::milliseconds> retry_after;
  /// Probes to run now, out of turn: the parents of a probe that fails (checked before it may
  /// go HARD), or the children waiting for this parent's answer.
  std::vector<std::string> run_now;
  /// The probe recovered: its acknowledgement is gone (and must be forgotten on disk).
  bool acknowledgement_cleared = false;
};

/// Alerts closed because their probes are gone: their saved states go too.
struct ClosedAlerts {
  std::vector<std::string> forgotten;
  std::vector<Event> events;
};

/// States saved before a restart, put back into the store.
struct RestoredAlerts {
  /// Probes removed while the agent was down.
  ClosedAlerts closed;
  /// Alerts that were firing: receivers know them already, they are only re-asserted.
  std::vector<Event> firing;
};

/// From probe results to typed events: the one place that steps the alert states kept in the
/// StateStore (soft/hard, flapping, maintenance, dependencies) and logs their changes.
class Alerter {
 public:
  explicit Alerter(std::string agent) : agent_(std::move(agent)) {}

  void setMaintenance(std::vector<MaintenanceWindow> windows);
  /// The zone of every human time in events (agent.timezone); null means UTC.
  void setTimeZone(const date::time_zone* zone) { zone_ = zone; }
  /// Children are unreachable while a parent fails: any problem (false) or only a HARD one.
  void setUnreachableWhenHard(bool hard_only) { unreachable_when_hard_ = hard_only; }

  /// Operators' silences: a covered probe alerts nothing, as in maintenance.
  Silences& silences() { return silences_; }
  const Silences& silences() const { return silences_; }

  /// The update telling receivers that `probe`'s problem is acknowledged; no event when nothing
  /// was told about it (a SOFT problem, a silenced one).
  AlertUpdate acknowledged(const ProbeState& probe, WallTime now) const;

  /// Records the result in the store and steps the probe's alert state.
  AlertUpdate onResult(StateStore& store, const ProbeSpec& spec, ProbeResult result,
                       double duration_seconds, WallTime now);
  /// Before the store takes `probes`: closes the alerts of the probes that disappear.
  ClosedAlerts closeRemoved(const std::vector<ProbeSpec>& probes, const StateStore& store,
                            WallTime now) const;
  /// Puts `saved` states back into the store (once, at start, after the store took its probes).
  RestoredAlerts restore(const std::map<std::string, AlertState>& saved, StateStore& store,
                         WallTime now) const;

 private:
  bool inMaintenance(const ProbeSpec& spec, WallTime now) const;
  /// Logs the windows that started or ended since the last result.
  void logWindowChanges(WallTime now);
  /// Judges the parents of `state` for a result `result`; asks for the ones to check now.
  StepContext dependencyContext(const ProbeState& state, Status result, WallTime now,
                                const StateStore& store, AlertUpdate& update);
  /// The probes that depend on `parent`, directly or through others, whose last result fails.
  std::vector<std::string> affectedBy(const std::string& parent, const StateStore& store) const;
  EventSource sourceOf(const ProbeState& state) const;

  std::string agent_;
  std::vector<MaintenanceWindow> maintenance_;
  std::vector<bool> window_active_;
  const date::time_zone* zone_ = nullptr;
  bool unreachable_when_hard_ = false;
  /// Parent → children held SOFT until that parent answers (then they run again at once).
  std::map<std::string, std::set<std::string>> waiting_;
  Silences silences_;
};

}  // namespace vigie
