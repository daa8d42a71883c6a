// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "vigie/probe.h"

namespace vigie {

using WallTime = std::chrono::system_clock::time_point;

/// Per-probe alerting settings (`alerting:` block of a probe).
struct AlertPolicy {
  /// Consecutive non-OK results before the state becomes HARD.
  int max_attempts = 3;
  /// Consecutive OK results before a HARD problem recovers (hysteresis).
  int recovery_attempts = 1;
  /// Interval between runs while the state is SOFT; zero means the probe's own interval.
  std::chrono::milliseconds retry_interval{0};
  bool flap_detection = true;
  /// Weighted state-change percentages: flapping starts above `flap_high`, stops below `flap_low`.
  double flap_low = 25.0;
  double flap_high = 50.0;
};

enum class StateType : std::uint8_t { Soft = 0, Hard = 1 };

/// The kind of alert a probe can raise: its own problem, or one "flapping" alert instead of a
/// storm of triggers and resolves.
enum class AlertKind : std::uint8_t { Probe, Flapping };
enum class AlertAction : std::uint8_t { Trigger, Update, Resolve };

struct AlertChange {
  AlertKind kind;
  AlertAction action;
  /// The severity the alert has after the change; for a resolve, the severity it had.
  Status severity;
  bool operator==(const AlertChange&) const = default;
};

/// Number of results whose state changes feed the flapping ratio (Icinga uses 20).
inline constexpr int kFlapWindow = 20;

/// Everything the agent remembers about one probe's alerting. Plain data: persisted as is.
struct AlertState {
  Status status = Status::Ok;
  StateType type = StateType::Hard;
  /// Nagios' current attempt: 1 when OK, counts non-OK results up to max_attempts.
  int attempt = 1;
  /// Consecutive OK results while a HARD problem waits for recovery_attempts.
  int ok_streak = 0;
  Status last_result = Status::Ok;
  bool has_result = false;
  WallTime last_state_change{};
  WallTime last_hard_change{};
  /// Bit 0 = the newest result changed the state; kFlapWindow bits.
  std::uint32_t change_history = 0;
  double flap_percent = 0;
  bool flapping = false;
  bool in_maintenance = false;
  bool unreachable = false;
  /// What the receivers were last told: the probe alert fires with `notified_severity`.
  bool notified_firing = false;
  Status notified_severity = Status::Ok;
  bool notified_flapping = false;
  /// Start of the probe alert currently firing (what receivers see as starts_at).
  WallTime firing_since{};

  bool operator==(const AlertState&) const = default;
};

/// What the rest of the agent knows when a result arrives.
struct StepContext {
  bool in_maintenance = false;
  /// A probe this one depends on is in a HARD non-OK state.
  bool parent_down = false;
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
/// probe alert) flapping, and the difference is caught up on the first result after that.
StepOutcome step(AlertState& state, const AlertPolicy& policy, Status result, WallTime now,
                 const StepContext& context);

/// What must be told to close every alert still open (probe removed from the configuration).
std::vector<AlertChange> closeAll(AlertState& state);

std::string_view stateTypeName(StateType type);

}  // namespace vigie
