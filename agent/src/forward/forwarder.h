// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "alert/event.h"
#include "forward/alert_db.h"
#include "forward/delivery.h"
#include "forward/destination.h"
#include "forward/forward_config.h"

namespace vigie {

/// Delivers canonical events from the outbox to every configured destination, on the event
/// loop: in order per dedup_key, at least once (event_id reused as Idempotency-Key), with
/// full-jitter backoff per destination, Retry-After honoured, a drain rate limit, dead letters
/// for permanent refusals; re-asserts firing alerts and sends heartbeats.
class Forwarder {
 public:
  Forwarder(asio::io_context& io, AlertDb& db, std::string agent);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  /// (Re)starts delivery for a configuration; destinations that disappeared stop, their queued
  /// events stay in the outbox.
  void configure(const ForwardingConfig& config);
  void stop();

  /// One outbox row per destination that takes this event.
  std::vector<OutboxEvent> fanOut(const Event& event) const;
  /// Writes probe states and the events they produced durably, then wakes delivery. When the
  /// disk is full or the write fails, they wait in memory and the write is retried every
  /// second: the latest state per probe, events coalesced per key as the outbox would, at most
  /// unwritten_max_events of them (beyond, the outbox's eviction order, counted as lost).
  void record(std::vector<StateWrite> states, std::vector<Event> events);
  /// Probe states and events waiting in memory for the outbox to be writable.
  std::size_t pendingWrites() const { return pending_states_.size() + pending_events_.size(); }
  /// Alerts firing at start (restored state): re-asserted without being queued again.
  void assumeFiring(const Event& event);

  std::string renderMetrics();
  /// Every destination looks at its queue again (events were put back in the outbox).
  void wake();
  /// Told the outcome of every delivery attempt (the console's per-probe history).
  using AttemptObserver = std::function<void(const OutboxEvent&, const Classified&)>;
  void setAttemptObserver(AttemptObserver observer) { observer_ = std::move(observer); }

 private:
  /// A destination with its delivery loop's state.
  struct Route;
  using RoutePtr = std::shared_ptr<Route>;

  asio::awaitable<void> deliver(RoutePtr route);
  asio::awaitable<void> restateLoop(RoutePtr route);
  /// Logs, like configuration errors, what the destination says it cannot find.
  asio::awaitable<void> checkReferences(RoutePtr route);
  /// The log of a failed attempt (rate-limited) and of the first success after failures.
  void failed(Route& route, const Classified& result, std::chrono::steady_clock::duration pause);
  void recovered(Route& route);
  asio::awaitable<void> periodicLoop();
  std::vector<Event> reassertions();
  void heartbeat();
  void stopDestinations();
  void hold(std::vector<StateWrite> states, std::vector<Event> events);
  bool flush();
  void remember(const Event& event);
  void countFailure(const std::string& destination, const std::string& reason);

  asio::io_context& io_;
  AlertDb& db_;
  std::string agent_;
  /// Firing alerts, and resolved ones for a while: re-asserted, restated by Alertmanager.
  AlertMemory alerts_;
  DestinationContext context_;
  ForwardingConfig config_;
  std::map<std::string, RoutePtr> routes_;
  asio::steady_timer periodic_;
  /// Fresh for each periodic loop: a signal must outlive the coroutine bound to its slot, and
  /// a reload starts the new loop before the cancelled one has finished.
  std::shared_ptr<asio::cancellation_signal> periodic_cancel_;
  bool configured_ = false;
  std::mt19937_64 random_;
  std::map<std::string, std::optional<std::string>> pending_states_;
  std::vector<Event> pending_events_;  ///< one per key, in order of arrival
  asio::steady_timer retry_write_;
  bool retry_armed_ = false;
  int failed_writes_ = 0;  ///< consecutive, to log the first, every 60th and the recovery

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& failures_;
  prometheus::Counter& dead_letters_;
  prometheus::Counter& write_failures_;
  prometheus::Counter& lost_events_;
  std::map<std::string, double> last_success_;
  AttemptObserver observer_;
};

}  // namespace vigie
