// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "state/alert_state.h"
#include "vigie/probe.h"

namespace vigie {

/// The kind of alert a probe can raise: its own problem, or one "flapping" alert instead of a
/// storm of triggers and resolves.
enum class AlertKind : std::uint8_t { Probe, Flapping };
/// Retire: the probe left the configuration with its alert open; nothing says it recovered.
enum class AlertAction : std::uint8_t { Trigger, Update, Resolve, Retire };

struct AlertChange {
  AlertKind kind;
  AlertAction action;
  /// The severity the alert has after the change; for a resolve, the severity it had.
  Status severity;
  bool operator==(const AlertChange&) const = default;
};

/// What the rest of the agent knows when a result arrives.
struct StepContext {
  bool in_maintenance = false;
  /// A probe this one depends on is failing: this one is unreachable, it alerts nothing.
  bool parent_down = false;
  /// A probe this one depends on has not been checked since this problem began (or is failing
  /// SOFT while only a HARD parent makes children unreachable): the problem may not go HARD yet.
  bool parent_pending = false;
};

struct StepOutcome {
  bool state_changed = false;  ///< status or SOFT/HARD changed
  bool hard_changed = false;
  std::vector<AlertChange> changes;
};

/// The weighted state-change percentage of a history (newest changes weigh 1.2, oldest 0.8).
double flapPercent(std::uint32_t change_history);

/// Applies one probe result. Pure: `now` is passed in, nothing is read or written elsewhere.
/// Alerts are state based: the outcome lists what must be told to receivers so that what they
/// know matches the HARD state; nothing is told while in maintenance, unreachable or (for the
/// probe alert) flapping, and the difference is caught up on the first result after that. A
/// trigger or an update needs a failing result (the one the event shows); a passing result can
/// only resolve, so a HARD problem never told that passes again is simply not told.
StepOutcome step(AlertState& state, const AlertPolicy& policy, Status result, WallTime now,
                 const StepContext& context);

/// What must be told to retire every alert still open (probe removed from the configuration):
/// never a resolve, since nothing saw the probe pass.
std::vector<AlertChange> closeAll(AlertState& state);

std::string_view stateTypeName(StateType type);

}  // namespace vigie
