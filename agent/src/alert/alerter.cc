// SPDX-License-Identifier: Apache-2.0
#include "alert/alerter.h"

#include <algorithm>
#include <deque>

#include "util/log.h"

namespace vigie {

namespace {

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
  std::string line = std::string("HARD ") + std::string(statusName(alert.status));
  if (alert.status != Status::Ok && state.last_result) {
    // The operator reading this line must not have to look for the SOFT lines before it.
    line += " reason=" + state.last_result->reason + ": " + state.last_result->message;
  }
  line += alert.in_maintenance ? " (in maintenance: not alerted)" : "";
  line += alert.unreachable ? " (unreachable: not alerted)" : "";
  logLine(level, state.name, line);
}

void logModeChanges(const ProbeState& state, const AlertState& before) {
  const AlertState& after = state.alert;
  if (before.flapping != after.flapping) {
    logLine(LogLevel::Warning, state.name,
            std::string(after.flapping ? "flapping started" : "flapping stopped") + " (" +
                std::to_string(static_cast<int>(after.flap_percent)) + " % state changes)");
  }
  if (before.unreachable != after.unreachable) {
    logLine(LogLevel::Info, state.name,
            after.unreachable ? "unreachable: a probe it depends on is failing, not alerted"
                              : "reachable again: its parents pass");
  }
}

}  // namespace

EventSource Alerter::sourceOf(const ProbeState& state) const {
  EventSource source;
  source.agent = agent_;
  source.probe = state.name;
  source.type = state.type;
  source.labels = state.labels;
  source.state = &state.alert;
  source.result = state.last_result ? &*state.last_result : nullptr;
  source.max_attempts = state.policy.max_attempts;
  source.zone = zone_;
  source.runbook_url = state.runbook_url;
  source.instructions = state.instructions;
  return source;
}

void Alerter::setMaintenance(std::vector<MaintenanceWindow> windows) {
  maintenance_ = std::move(windows);
  window_active_.assign(maintenance_.size(), false);
}

void Alerter::logWindowChanges(WallTime now) {
  for (std::size_t i = 0; i < maintenance_.size(); ++i) {
    const bool active = maintenance_[i].activeAt(now);
    if (active != window_active_[i]) {
      window_active_[i] = active;
      logInfo("maintenance window '" + maintenance_[i].name + "' " +
              (active ? "started: its probes alert nothing until it ends"
                      : "ended: its probes alert again from their next result"));
    }
  }
}

bool Alerter::inMaintenance(const ProbeSpec& spec, WallTime now) const {
  for (const MaintenanceWindow& window : maintenance_) {
    if (window.appliesTo(spec.name, spec.labels) && window.activeAt(now)) {
      return true;
    }
  }
  return false;
}

StepContext Alerter::dependencyContext(const ProbeState& state, Status result, WallTime now,
                                       const StateStore& store, AlertUpdate& update) {
  StepContext context;
  for (const std::string& parent : state.depends_on) {
    const ProbeState* up = store.find(parent);
    if (up == nullptr) {
      continue;
    }
    if (up->alert.failing(unreachable_when_hard_)) {
      context.parent_down = true;
      continue;
    }
    if (result == Status::Ok) {
      continue;
    }
    // As Nagios does: before a child's problem may go HARD, its parent is checked, so that one
    // outage gives the parent's alert and not one per child.
    const WallTime began = state.alert.status == Status::Ok ? now : state.alert.first_failure;
    const bool unchecked = up->last_run <= began;
    const bool parent_undecided = up->alert.status != Status::Ok;  // SOFT, when HARD is needed
    if (unchecked || parent_undecided) {
      context.parent_pending = true;
      const bool newly_waiting = waiting_[parent].insert(state.name).second;
      // A parent already failing SOFT is retrying on its own schedule.
      if (unchecked && !parent_undecided && newly_waiting) {
        update.run_now.push_back(parent);
      }
    }
  }
  return context;
}

std::vector<std::string> Alerter::affectedBy(const std::string& parent,
                                             const StateStore& store) const {
  std::vector<std::string> affected;
  std::set<std::string> seen{parent};
  std::deque<std::string> next{parent};
  while (!next.empty()) {
    const std::string current = next.front();
    next.pop_front();
    for (const auto& [name, state] : store.probes()) {
      const bool child = std::find(state.depends_on.begin(), state.depends_on.end(), current) !=
                         state.depends_on.end();
      if (!child || !seen.insert(name).second) {
        continue;
      }
      next.push_back(name);
      if (state.last_result && state.last_result->status != Status::Ok) {
        affected.push_back(name);
      }
    }
  }
  return affected;
}

AlertUpdate Alerter::onResult(StateStore& store, const ProbeSpec& spec, ProbeResult result,
                              double duration_seconds, WallTime now) {
  AlertUpdate update;
  update.probe = spec.name;
  ProbeState* state = store.find(spec.name);
  if (state == nullptr) {
    return update;
  }
  logWindowChanges(now);
  logStatusChange(*state, result);
  store.record(spec.name, std::move(result), duration_seconds, now);
  const RecordedResult& recorded = *state->last_result;

  StepContext context = dependencyContext(*state, recorded.status, now, store, update);
  // An operator's silence holds the alerts back exactly as a maintenance window does.
  context.in_maintenance =
      inMaintenance(spec, now) || silences_.covering(spec.name, spec.labels, now) != nullptr;
  const AlertState before = state->alert;
  const StepOutcome outcome = step(state->alert, state->policy, recorded.status, now, context);
  AlertState& after = state->alert;
  for (const AlertChange& change : outcome.changes) {
    if (change.kind == AlertKind::Probe && change.action == AlertAction::Trigger) {
      after.notified_reason = recorded.reason;
    }
  }
  if (outcome.hard_changed) {
    logHardChange(*state);
  }
  if (outcome.state_changed) {
    std::string text =
        std::string(stateTypeName(after.type)) + " " + std::string(statusName(after.status));
    if (after.status != Status::Ok) {
      text += " " + recorded.reason + ": " + recorded.message;
    }
    state->addHistory({now, "transition", std::move(text), {}, {}, {}});
  }
  if (state->acknowledgement && after.status == Status::Ok) {
    state->acknowledgement.reset();
    update.acknowledgement_cleared = true;
    state->addHistory({now, "unacknowledged", "recovered", {}, {}, {}});
  }
  logModeChanges(*state, before);
  if (!(after == before)) {
    update.state = after;
    for (const AlertChange& change : outcome.changes) {
      EventSource source = sourceOf(*state);
      if (change.kind == AlertKind::Probe && change.action != AlertAction::Resolve) {
        source.affected = affectedBy(spec.name, store);
      }
      update.events.push_back(buildEvent(source, change, now, before.notified_severity));
    }
  }
  // This probe as a parent: the children held for its answer run again now, and so do the
  // failing ones when it passes again (their own result decides, not a stale one).
  if (auto waiting = waiting_.find(spec.name); waiting != waiting_.end()) {
    update.run_now.insert(update.run_now.end(), waiting->second.begin(), waiting->second.end());
    waiting_.erase(waiting);
  }
  if (before.failing(unreachable_when_hard_) && !after.failing(unreachable_when_hard_)) {
    for (const std::string& child : affectedBy(spec.name, store)) {
      if (std::find(update.run_now.begin(), update.run_now.end(), child) == update.run_now.end()) {
        update.run_now.push_back(child);
      }
    }
  }
  if (after.type == StateType::Soft && after.status != Status::Ok &&
      spec.alerting.retry_interval.count() > 0) {
    update.retry_after = spec.alerting.retry_interval;
  }
  return update;
}

AlertUpdate Alerter::acknowledged(const ProbeState& probe, WallTime now) const {
  AlertUpdate update;
  update.probe = probe.name;
  if (!probe.alert.notified_firing || !probe.acknowledgement) {
    return update;
  }
  Event event = buildEvent(sourceOf(probe),
                           {AlertKind::Probe, AlertAction::Update, probe.alert.notified_severity},
                           now, probe.alert.notified_severity);
  event.previous_severity.reset();
  event.acknowledgement = probe.acknowledgement;
  // Every receiver shows the summary: iTop's log entry, Alertmanager's annotation, a chat line.
  event.summary +=
      " ; acquittée par " + probe.acknowledgement->author +
      (probe.acknowledgement->comment.empty() ? std::string()
                                              : " : " + probe.acknowledgement->comment);
  update.events.push_back(std::move(event));
  update.state = probe.alert;  // unchanged, written with the event as every update is
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
    ProbeState closing = state;
    for (const AlertChange& change : closeAll(closing.alert)) {
      closed.events.push_back(buildEvent(sourceOf(closing), change, now));
    }
    if (state.alert.notified_firing || state.alert.notified_flapping) {
      logInfo("probe " + name + " removed from the configuration: its open alerts are retired");
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
      // Removed while the agent was down: whatever it had open is retired now.
      ProbeState gone;
      gone.name = name;
      gone.alert = alert;
      for (const AlertChange& change : closeAll(gone.alert)) {
        restored.closed.events.push_back(buildEvent(sourceOf(gone), change, now));
      }
      restored.closed.forgotten.push_back(name);
      continue;
    }
    store.restoreAlert(name, alert);
    if (alert.notified_firing) {
      restored.firing.push_back(buildEvent(
          sourceOf(*state), {AlertKind::Probe, AlertAction::Trigger, alert.notified_severity},
          alert.firing_since));
    }
  }
  return restored;
}

}  // namespace vigie
