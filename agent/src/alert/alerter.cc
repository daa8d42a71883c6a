// SPDX-License-Identifier: Apache-2.0
#include "alert/alerter.h"

#include <set>

#include "util/log.h"

namespace vigie {

namespace {

EventSource sourceOf(const std::string& agent, const ProbeState& state) {
  EventSource source;
  source.agent = agent;
  source.probe = state.name;
  source.type = state.type;
  source.labels = state.labels;
  source.state = &state.alert;
  source.result = state.last_result ? &*state.last_result : nullptr;
  source.max_attempts = state.policy.max_attempts;
  return source;
}

void logStatusChange(const ProbeState& state, const ProbeResult& result) {
  const bool changed = !state.last_result || state.last_result->status != result.status;
  if (changed) {
    const LogLevel level = result.status == Status::Ok ? LogLevel::Info : LogLevel::Warning;
    logLine(level, state.name, std::string(statusName(result.status)) + ": " + result.message);
  }
}

void logHardChange(const ProbeState& state) {
  const AlertState& alert = state.alert;
  const LogLevel level = alert.status == Status::Ok ? LogLevel::Info : LogLevel::Warning;
  logLine(level, state.name,
          std::string("HARD ") + std::string(statusName(alert.status)) +
              (alert.in_maintenance ? " (in maintenance: not alerted)" : "") +
              (alert.unreachable ? " (unreachable: not alerted)" : ""));
}

}  // namespace

bool Alerter::inMaintenance(const ProbeSpec& spec, WallTime now) const {
  for (const MaintenanceWindow& window : maintenance_) {
    if (window.appliesTo(spec.name, spec.labels) && window.activeAt(now)) {
      return true;
    }
  }
  return false;
}

AlertUpdate Alerter::onResult(StateStore& store, const ProbeSpec& spec, ProbeResult result,
                              double duration_seconds, WallTime now) {
  AlertUpdate update;
  update.probe = spec.name;
  ProbeState* state = store.find(spec.name);
  if (state == nullptr) {
    return update;
  }
  logStatusChange(*state, result);
  store.record(spec.name, std::move(result), duration_seconds, now);

  StepContext context;
  context.in_maintenance = inMaintenance(spec, now);
  for (const std::string& parent : state->depends_on) {
    const ProbeState* up = store.find(parent);
    if (up != nullptr && up->alert.hardProblem()) {
      context.parent_down = true;
    }
  }
  const AlertState before = state->alert;
  const StepOutcome outcome =
      step(state->alert, state->policy, state->last_result->status, now, context);
  const AlertState& after = state->alert;
  if (outcome.hard_changed) {
    logHardChange(*state);
  }
  if (!(after == before)) {
    update.state = after;
    for (const AlertChange& change : outcome.changes) {
      update.events.push_back(
          buildEvent(sourceOf(agent_, *state), change, now, before.notified_severity));
    }
  }
  if (after.type == StateType::Soft && after.status != Status::Ok &&
      spec.alerting.retry_interval.count() > 0) {
    update.retry_after = spec.alerting.retry_interval;
  }
  return update;
}

ClosedAlerts Alerter::closeRemoved(const std::vector<ProbeSpec>& probes, const StateStore& store,
                                   WallTime now) const {
  std::set<std::string> kept;
  for (const ProbeSpec& spec : probes) {
    kept.insert(spec.name);
  }
  ClosedAlerts closed;
  for (const auto& [name, state] : store.probes()) {
    if (kept.count(name) != 0) {
      continue;
    }
    AlertState closing = state.alert;
    for (const AlertChange& change : closeAll(closing)) {
      closed.events.push_back(buildEvent(sourceOf(agent_, state), change, now));
    }
    closed.forgotten.push_back(name);
  }
  return closed;
}

RestoredAlerts Alerter::restore(const std::map<std::string, AlertState>& saved, StateStore& store,
                                WallTime now) const {
  RestoredAlerts restored;
  for (const auto& [name, alert] : saved) {
    const ProbeState* state = store.find(name);
    if (state == nullptr) {
      // Removed while the agent was down: whatever it had open is closed now.
      ProbeState gone;
      gone.name = name;
      gone.alert = alert;
      for (const AlertChange& change : closeAll(gone.alert)) {
        restored.closed.events.push_back(buildEvent(sourceOf(agent_, gone), change, now));
      }
      restored.closed.forgotten.push_back(name);
      continue;
    }
    store.restoreAlert(name, alert);
    if (alert.notified_firing) {
      restored.firing.push_back(buildEvent(
          sourceOf(agent_, *state),
          {AlertKind::Probe, AlertAction::Trigger, alert.notified_severity}, alert.firing_since));
    }
  }
  return restored;
}

}  // namespace vigie
