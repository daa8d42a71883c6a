// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "alert/alerter.h"
#include "forward/alert_db.h"
#include "forward/forward_config.h"
#include "forward/forwarder.h"

namespace vigie {

/// Where the Alerter's output goes: persists alert states with the events they produce (one
/// durable transaction in state_dir/vigie.db) and hands the events to the forwarder. The only
/// road of alert states to and from SQLite. Lives on the event loop.
///
/// A state change that emits no event (a first result, a SOFT attempt, flapping history) is
/// written in a batch within a second instead: one fsync per probe result would stall the
/// loop at thousands of probes, and losing a second of such bookkeeping in a crash costs at
/// most a recount of attempts. Changes that emit events are never deferred.
class AlertSink {
 public:
  /// `agent` names the heartbeats' source; the database lives in `state_dir`. Throws
  /// NewerSchemaError when that database was written by a newer agent.
  AlertSink(asio::io_context& io, std::string agent, const std::string& state_dir);

  /// The alert states saved before a restart, by probe (unreadable ones are skipped).
  std::map<std::string, AlertState> savedStates();
  /// (Re)starts the destinations and sets the outbox bounds.
  void configure(const ForwardingConfig& forwarding);

  void record(AlertUpdate update);
  /// Forgets the closed probes' states and sends the events closing their alerts.
  void close(ClosedAlerts closed);
  /// Alerts firing at start (restored state): re-asserted without being queued again.
  void assumeFiring(const std::vector<Event>& firing);

  /// The forwarder's metrics, and how many destinations of each type are configured (the
  /// shipped Prometheus rules stay silent where the agent tells Alertmanager itself).
  std::string renderMetrics();
  /// The state database, which the operator console's tables share.
  StateDatabase& database() { return db_->database(); }
  /// Wakes delivery: events were put back in the outbox (a replayed dead letter).
  void wake();
  void setAttemptObserver(Forwarder::AttemptObserver observer) {
    forwarder_->setAttemptObserver(std::move(observer));
  }
  /// Writes the deferred states and stops the destinations.
  void stop();

 private:
  void deferState(const std::string& probe, std::string state);
  std::vector<StateWrite> takeDeferred();

  std::unique_ptr<AlertDb> db_;
  std::unique_ptr<Forwarder> forwarder_;
  std::map<std::string, std::string> deferred_states_;
  std::map<std::string, int> destination_types_;
  asio::steady_timer flush_timer_;
  bool flush_armed_ = false;
};

}  // namespace vigie
