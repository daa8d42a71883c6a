// SPDX-License-Identifier: Apache-2.0
#include "forward/alert_sink.h"

#include <filesystem>

#include "alert/alert_json.h"
#include "util/log.h"

namespace vigie {

namespace {

std::unique_ptr<AlertDb> openDb(const std::string& state_dir, std::int64_t max_events) {
  const std::string path = (std::filesystem::path(state_dir) / "vigie.db").string();
  try {
    return std::make_unique<AlertDb>(path, max_events);
  } catch (const NewerSchemaError&) {
    throw;  // a newer agent's alerts and outbox: never start over them in memory
  } catch (const std::exception& e) {
    // Alerts still work, but a restart forgets them: say so loudly rather than stop probing.
    logError(std::string("alert state not persisted: ") + e.what() + "; keeping it in memory only");
    return std::make_unique<AlertDb>(":memory:", max_events);
  }
}

}  // namespace

AlertSink::AlertSink(asio::io_context& io, std::string agent, const std::string& state_dir)
    : db_(openDb(state_dir, 10'000)), flush_timer_(io), file_check_(io) {
  forwarder_ = std::make_unique<Forwarder>(io, *db_, std::move(agent));
  checkFileLater();
}

void AlertSink::checkFileLater() {
  // Quiet agents write seldom: a deleted file is noticed within this, not at the next alert.
  file_check_.expires_after(std::chrono::seconds(5));
  file_check_.async_wait([this](const asio::error_code& ec) {
    if (!ec) {
      db_->database().checkFile();
      checkFileLater();
    }
  });
}

void AlertSink::wake() { forwarder_->wake(); }

void AlertSink::stop() {
  flush_timer_.cancel();
  file_check_.cancel();
  if (!deferred_states_.empty()) {
    forwarder_->record(takeDeferred(), {});
  }
  forwarder_->stop();
}

void AlertSink::deferState(const std::string& probe, std::string state) {
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

std::vector<StateWrite> AlertSink::takeDeferred() {
  std::vector<StateWrite> states(std::make_move_iterator(deferred_states_.begin()),
                                 std::make_move_iterator(deferred_states_.end()));
  deferred_states_.clear();
  return states;
}

std::map<std::string, AlertState> AlertSink::savedStates() {
  std::map<std::string, AlertState> states;
  for (const auto& [name, text] : db_->states().load()) {
    if (auto saved = decodeAlertState(text)) {
      states.emplace(name, *saved);
    } else {
      logWarning(name + ": saved alert state unreadable; starting afresh");
    }
  }
  return states;
}

void AlertSink::configure(const ForwardingConfig& forwarding) {
  db_->outbox().setMaxEvents(forwarding.spool_max_events);
  db_->outbox().setMaxBytes(forwarding.spool_max_bytes);
  forwarder_->configure(forwarding);
  destination_types_ = {{"alertmanager", 0}, {"itop", 0}, {"webhook", 0}};
  for (const auto& target : forwarding.destinations) {
    ++destination_types_[std::string(target->type())];
  }
}

std::string AlertSink::renderMetrics() {
  std::string text = forwarder_->renderMetrics();
  text +=
      "# HELP vigie_forwarder_destinations Forwarding destinations configured, by type\n"
      "# TYPE vigie_forwarder_destinations gauge\n";
  for (const auto& [type, count] : destination_types_) {
    text += "vigie_forwarder_destinations{type=\"" + type + "\"} " + std::to_string(count) + "\n";
  }
  const StateDatabase& database = db_->database();
  text +=
      "# HELP vigie_state_database_healthy 1 while the state database is a writable file at its "
      "path; 0 while alert states and the outbox live in memory only (read-only, unopenable, "
      "deleted and not recreated, replaced)\n"
      "# TYPE vigie_state_database_healthy gauge\n"
      "vigie_state_database_healthy ";
  text += database.health() == StateHealth::File ? "1\n" : "0\n";
  text +=
      "# HELP vigie_state_database_problems_total Problems met with the state database since "
      "start, by kind: corrupt (moved aside), readonly (read into memory), unopenable, deleted "
      "(recreated), replaced\n"
      "# TYPE vigie_state_database_problems_total counter\n";
  for (const char* kind : {"corrupt", "deleted", "readonly", "replaced", "unopenable"}) {
    const auto found = database.problems().find(kind);
    text += "vigie_state_database_problems_total{kind=\"" + std::string(kind) + "\"} " +
            std::to_string(found == database.problems().end() ? 0 : found->second) + "\n";
  }
  return text;
}

void AlertSink::record(AlertUpdate update) {
  if (!update.state) {
    return;
  }
  if (update.events.empty()) {
    deferState(update.probe, encodeAlertState(*update.state));
    return;
  }
  // This write is synced anyway: the deferred states go with it.
  deferred_states_.erase(update.probe);
  auto states = takeDeferred();
  states.emplace_back(update.probe, encodeAlertState(*update.state));
  forwarder_->record(std::move(states), std::move(update.events));
}

void AlertSink::close(ClosedAlerts closed) {
  if (closed.forgotten.empty() && closed.events.empty()) {
    return;
  }
  std::vector<StateWrite> forgotten;
  for (const std::string& probe : closed.forgotten) {
    deferred_states_.erase(probe);
    forgotten.emplace_back(probe, std::nullopt);
  }
  // The saved states go with the events that close their alerts, in one transaction.
  forwarder_->record(std::move(forgotten), std::move(closed.events));
}

void AlertSink::assumeFiring(const std::vector<Event>& firing) {
  for (const Event& event : firing) {
    forwarder_->assumeFiring(event);
  }
}

}  // namespace vigie
