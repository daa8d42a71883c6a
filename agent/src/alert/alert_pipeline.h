// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/agent_config.h"
#include "forward/alert_db.h"
#include "forward/forwarder.h"
#include "scheduler/clock.h"
#include "state/state_store.h"

namespace vigie {

/// From probe results to receivers: feeds each probe's alert state machine, persists the
/// state with the events it produces (one durable transaction in state_dir/vigie.db), and
/// drives the forwarder. Lives on the event loop with the StateStore it reads.
///
/// A state change that emits no event (a first result, a SOFT attempt, flapping history) is
/// written in a batch within a second instead: one fsync per probe result would stall the
/// loop at thousands of probes, and losing a second of such bookkeeping in a crash costs at
/// most a recount of attempts. Changes that emit events are never deferred.
class AlertPipeline {
 public:
  AlertPipeline(asio::io_context& io, const AgentSettings& agent);

  /// Before the store takes `config`: closes the alerts of probes that disappear.
  void beforeConfigure(const AgentConfig& config, const StateStore& store);
  /// After the store took `config`: restores saved states (first time) and (re)starts the
  /// destinations.
  void afterConfigure(const AgentConfig& config, StateStore& store);

  /// The probe's latest result is in the store: steps its alert state. Returns how soon the
  /// probe must run again when its state is SOFT and it has a retry_interval.
  std::optional<Millis> onResult(StateStore& store, const ProbeSpec& spec, WallTime now);

  std::string renderMetrics() { return forwarder_->renderMetrics(); }
  /// Writes the deferred states and stops the destinations.
  void stop();

 private:
  void deferState(const std::string& probe, std::string state);
  std::vector<std::pair<std::string, std::string>> takeDeferred();

  std::string agent_;
  std::unique_ptr<AlertDb> db_;
  std::unique_ptr<Forwarder> forwarder_;
  std::vector<MaintenanceWindow> maintenance_;
  bool restored_ = false;
  std::map<std::string, std::string> deferred_states_;
  asio::steady_timer flush_timer_;
  bool flush_armed_ = false;
};

}  // namespace vigie
