// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

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

/// Number of results whose state changes feed the flapping ratio (Icinga uses 20).
inline constexpr int kFlapWindow = 20;

/// Everything the agent remembers about one probe's alerting. Plain data: persisted as is;
/// alert/alert_state.h steps it.
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
  /// The reason of the failing result that triggered the alert: part of its Alertmanager
  /// labels, so it stays the same until the alert resolves.
  std::string notified_reason;
  /// Start of the probe alert currently firing (what receivers see as starts_at).
  WallTime firing_since{};
  /// First non-OK result of the current problem episode (what humans read as "since").
  WallTime first_failure{};

  bool operator==(const AlertState&) const = default;
  /// A HARD non-OK state: what receivers are told about.
  bool hardProblem() const { return type == StateType::Hard && status != Status::Ok; }
  /// What makes the probes that depend on this one unreachable: any problem (SOFT included) by
  /// default, or only a HARD one (`agent.unreachable_when: hard`).
  bool failing(bool hard_only) const { return hard_only ? hardProblem() : status != Status::Ok; }
};

}  // namespace vigie
