// SPDX-License-Identifier: Apache-2.0
#include "alert/alert_state.h"

#include <algorithm>

namespace vigie {

double flapPercent(std::uint32_t change_history) {
  double weighted = 0;
  for (int age = 0; age < kFlapWindow; ++age) {
    if ((change_history >> age) & 1U) {
      // Linear weights, 1.2 for the newest result down to 0.8 for the oldest, so that recent
      // changes count more, as in Icinga.
      weighted += 1.2 - 0.4 * age / (kFlapWindow - 1);
    }
  }
  return 100.0 * weighted / kFlapWindow;
}

namespace {

void applyResult(AlertState& state, const AlertPolicy& policy, Status result, WallTime now,
                 bool hold_soft, StepOutcome& outcome) {
  const Status before = state.status;
  const StateType type_before = state.type;
  if (result == Status::Ok) {
    if (state.status == Status::Ok) {
      state.attempt = 1;
    } else if (state.type == StateType::Soft) {
      // A SOFT problem was never alerted: recover at once.
      state.status = Status::Ok;
      state.type = StateType::Hard;
      state.attempt = 1;
    } else if (++state.ok_streak >= policy.recovery_attempts) {
      state.status = Status::Ok;
      state.attempt = 1;
      state.ok_streak = 0;
    }
  } else {
    state.ok_streak = 0;
    if (state.status == Status::Ok) {
      state.status = result;
      state.attempt = 1;
      state.first_failure = now;
      state.type = policy.max_attempts <= 1 && !hold_soft ? StateType::Hard : StateType::Soft;
    } else if (state.type == StateType::Soft) {
      state.status = result;
      state.attempt = std::min(state.attempt + 1, std::max(policy.max_attempts, 1));
      if (state.attempt >= policy.max_attempts && !hold_soft) {
        state.type = StateType::Hard;
      }
    } else {
      // Already HARD: a change of severity is a HARD change at once.
      state.status = result;
    }
  }
  outcome.state_changed = state.status != before || state.type != type_before;
  const bool was_hard_problem = type_before == StateType::Hard && before != Status::Ok;
  const bool is_hard_problem = state.type == StateType::Hard && state.status != Status::Ok;
  outcome.hard_changed =
      was_hard_problem != is_hard_problem || (is_hard_problem && state.status != before);
  if (outcome.state_changed) {
    state.last_state_change = now;
  }
  if (outcome.hard_changed) {
    state.last_hard_change = now;
  }
}

void updateFlapping(AlertState& state, const AlertPolicy& policy, Status result) {
  const bool changed = state.has_result && result != state.last_result;
  state.change_history =
      ((state.change_history << 1) | (changed ? 1U : 0U)) & ((1U << kFlapWindow) - 1);
  state.flap_percent = flapPercent(state.change_history);
  if (!policy.flap_detection) {
    state.flapping = false;
  } else if (!state.flapping && state.flap_percent > policy.flap_high) {
    state.flapping = true;
  } else if (state.flapping && state.flap_percent < policy.flap_low) {
    state.flapping = false;
  }
}

}  // namespace

StepOutcome step(AlertState& state, const AlertPolicy& policy, Status result, WallTime now,
                 const StepContext& context) {
  StepOutcome outcome;
  applyResult(state, policy, result, now, context.parent_pending, outcome);
  updateFlapping(state, policy, result);
  state.last_result = result;
  state.has_result = true;
  state.in_maintenance = context.in_maintenance;
  state.unreachable = context.parent_down;
  if (state.in_maintenance || state.unreachable) {
    return outcome;
  }
  if (state.flapping != state.notified_flapping) {
    outcome.changes.push_back({AlertKind::Flapping,
                               state.flapping ? AlertAction::Trigger : AlertAction::Resolve,
                               Status::Warning});
    state.notified_flapping = state.flapping;
  }
  if (state.flapping) {
    return outcome;
  }
  if (state.hardProblem() && result != Status::Ok) {
    if (!state.notified_firing) {
      outcome.changes.push_back({AlertKind::Probe, AlertAction::Trigger, state.status});
      state.firing_since = now;
    } else if (state.notified_severity != state.status) {
      outcome.changes.push_back({AlertKind::Probe, AlertAction::Update, state.status});
    }
    state.notified_firing = true;
    state.notified_severity = state.status;
  } else if (!state.hardProblem() && state.notified_firing) {
    outcome.changes.push_back({AlertKind::Probe, AlertAction::Resolve, state.notified_severity});
    state.notified_firing = false;
    state.notified_severity = Status::Ok;
  }
  return outcome;
}

std::vector<AlertChange> closeAll(AlertState& state) {
  std::vector<AlertChange> changes;
  if (state.notified_flapping) {
    changes.push_back({AlertKind::Flapping, AlertAction::Retire, Status::Warning});
    state.notified_flapping = false;
  }
  if (state.notified_firing) {
    changes.push_back({AlertKind::Probe, AlertAction::Retire, state.notified_severity});
    state.notified_firing = false;
    state.notified_severity = Status::Ok;
  }
  return changes;
}

std::string_view stateTypeName(StateType type) { return type == StateType::Hard ? "HARD" : "SOFT"; }

}  // namespace vigie
