// SPDX-License-Identifier: Apache-2.0
#include "alert/alert_pipeline.h"

#include <filesystem>
#include <set>

#include "alert/alert_json.h"
#include "forward/event.h"
#include "util/log.h"

namespace vigie {

namespace {

std::unique_ptr<AlertDb> openDb(const AgentSettings& agent, std::int64_t max_events) {
  const std::string path = (std::filesystem::path(agent.state_dir) / "vigie.db").string();
  try {
    return std::make_unique<AlertDb>(path, max_events);
  } catch (const std::exception& e) {
    // Alerts still work, but a restart forgets them: say so loudly rather than stop probing.
    logError(std::string("alert state not persisted: ") + e.what() + "; keeping it in memory only");
    return std::make_unique<AlertDb>(":memory:", max_events);
  }
}

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

}  // namespace

AlertPipeline::AlertPipeline(asio::io_context& io, const AgentSettings& agent)
    : agent_(agent.name), db_(openDb(agent, 10'000)), flush_timer_(io) {
  forwarder_ = std::make_unique<Forwarder>(io, *db_, agent_);
}

void AlertPipeline::stop() {
  flush_timer_.cancel();
  if (!deferred_states_.empty()) {
    forwarder_->record(takeDeferred(), {});
  }
  forwarder_->stop();
}

void AlertPipeline::deferState(const std::string& probe, std::string state) {
  deferred_states_[probe] = std::move(state);
  if (flush_armed_) {
    return;
  }
  flush_armed_ = true;
  flush_timer_.expires_after(std::chrono::seconds(1));
  flush_timer_.async_wait([this](const asio::error_code& ec) {
    flush_armed_ = false;
    if (!ec && !deferred_states_.empty()) {
      forwarder_->record(takeDeferred(), {});
    }
  });
}

std::vector<std::pair<std::string, std::string>> AlertPipeline::takeDeferred() {
  std::vector<std::pair<std::string, std::string>> states(
      std::make_move_iterator(deferred_states_.begin()),
      std::make_move_iterator(deferred_states_.end()));
  deferred_states_.clear();
  return states;
}

void AlertPipeline::beforeConfigure(const AgentConfig& config, const StateStore& store) {
  std::set<std::string> kept;
  for (const ProbeSpec& spec : config.probes) {
    kept.insert(spec.name);
  }
  const WallTime now = std::chrono::system_clock::now();
  std::vector<nlohmann::json> events;
  for (const auto& [name, state] : store.probes()) {
    if (kept.count(name) != 0) {
      continue;
    }
    AlertState closing = state.alert;
    for (const AlertChange& change : closeAll(closing)) {
      events.push_back(buildEvent(sourceOf(agent_, state), change, now));
    }
    deferred_states_.erase(name);
    db_->forgetState(name);
  }
  if (!events.empty()) {
    forwarder_->record({}, std::move(events));
  }
}

void AlertPipeline::afterConfigure(const AgentConfig& config, StateStore& store) {
  maintenance_ = config.maintenance;
  db_->setMaxEvents(config.forwarding.spool_max_events);
  db_->setMaxBytes(config.forwarding.spool_max_bytes);
  forwarder_->configure(config.forwarding);
  if (restored_) {
    return;
  }
  restored_ = true;
  const WallTime now = std::chrono::system_clock::now();
  std::vector<nlohmann::json> closing;
  for (const auto& [name, text] : db_->loadStates()) {
    auto saved = decodeAlertState(text);
    if (!saved) {
      logWarning(name + ": saved alert state unreadable; starting afresh");
      continue;
    }
    const ProbeState* state = store.find(name);
    if (state == nullptr) {
      // Removed while the agent was down: whatever it had open is closed now.
      ProbeState gone;
      gone.name = name;
      gone.alert = *saved;
      for (const AlertChange& change : closeAll(gone.alert)) {
        closing.push_back(buildEvent(sourceOf(agent_, gone), change, now));
      }
      db_->forgetState(name);
      continue;
    }
    store.restoreAlert(name, *saved);
    if (saved->notified_firing) {
      forwarder_->assumeFiring(buildEvent(
          sourceOf(agent_, *store.find(name)),
          {AlertKind::Probe, AlertAction::Trigger, saved->notified_severity}, saved->firing_since));
    }
  }
  if (!closing.empty()) {
    forwarder_->record({}, std::move(closing));
  }
}

std::optional<Millis> AlertPipeline::onResult(StateStore& store, const ProbeSpec& spec,
                                              WallTime now) {
  const ProbeState* state = store.find(spec.name);
  if (state == nullptr) {
    return std::nullopt;
  }
  bool in_maintenance = false;
  for (const MaintenanceWindow& window : maintenance_) {
    if (window.appliesTo(spec.name, spec.labels) && window.activeAt(now)) {
      in_maintenance = true;
      break;
    }
  }
  const AlertState before = state->alert;
  const StepOutcome outcome = store.stepAlert(spec.name, now, in_maintenance);
  const AlertState& after = state->alert;
  if (outcome.hard_changed) {
    const LogLevel level = after.status == Status::Ok ? LogLevel::Info : LogLevel::Warning;
    logLine(level, spec.name,
            std::string("HARD ") + std::string(statusName(after.status)) +
                (after.in_maintenance ? " (in maintenance: not alerted)" : "") +
                (after.unreachable ? " (unreachable: not alerted)" : ""));
  }
  if (!(after == before)) {
    if (outcome.changes.empty()) {
      deferState(spec.name, encodeAlertState(after));
    } else {
      std::vector<nlohmann::json> events;
      for (const AlertChange& change : outcome.changes) {
        events.push_back(
            buildEvent(sourceOf(agent_, *state), change, now, before.notified_severity));
      }
      // This write is synced anyway: the deferred states go with it.
      deferred_states_.erase(spec.name);
      auto states = takeDeferred();
      states.emplace_back(spec.name, encodeAlertState(after));
      forwarder_->record(std::move(states), std::move(events));
    }
  }
  if (after.type == StateType::Soft && after.status != Status::Ok &&
      spec.alerting.retry_interval.count() > 0) {
    return spec.alerting.retry_interval;
  }
  return std::nullopt;
}

}  // namespace vigie
