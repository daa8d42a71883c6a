// SPDX-License-Identifier: Apache-2.0
#include "forward/forwarder.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "util/duration.h"
#include "util/log.h"
#include "util/no_throw.h"

namespace vigie {

namespace {

using Clock = std::chrono::steady_clock;

// The same delivery error is logged again at most this often (a destination retried every few
// seconds would otherwise fill the log).
constexpr std::chrono::seconds kFailureLogInterval{60};

std::string seconds(Clock::duration duration) {
  return formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(duration));
}

// Built with append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.
std::string destinationId(const std::string& name, std::size_t index) {
  std::string id = name;
  if (index > 0) {
    id.append("#").append(std::to_string(index));
  }
  return id;
}

}  // namespace

struct Forwarder::Route {
  Route(asio::io_context& io, std::unique_ptr<Destination> to)
      : destination(std::move(to)), timer(io) {}

  std::unique_ptr<Destination> destination;
  asio::steady_timer timer;
  asio::cancellation_signal cancel;
  asio::cancellation_signal restate_cancel;
  asio::cancellation_signal check_cancel;
  bool stopped = false;
  bool dirty = false;
  int failures = 0;
  Clock::time_point next_send{};
  /// The failures since the last delivery, for the log: one line per new error or per
  /// kFailureLogInterval, and one when the destination is back.
  int failed_attempts = 0;
  Clock::time_point failing_since{};
  Clock::time_point failure_logged_at{};
  std::string failure_logged;
  /// What the receiver said of our configuration when it last refused it (logged once per
  /// change), and the problems of the last reference check: vigie_forwarder_config_error.
  std::string config_refusal;
  bool reference_problems = false;
};

Forwarder::Forwarder(asio::io_context& io, AlertDb& db, std::string agent)
    : io_(io),
      db_(db),
      agent_(std::move(agent)),
      context_{db_.outbox(), agent_, alerts_},
      periodic_(io),
      random_(std::random_device{}()),
      retry_write_(io),
      registry_(std::make_shared<prometheus::Registry>()),
      failures_(prometheus::BuildCounter()
                    .Name("vigie_forwarder_send_failures_total")
                    .Help("Failed delivery attempts by destination and reason")
                    .Register(*registry_)),
      dead_letters_(prometheus::BuildCounter()
                        .Name("vigie_forwarder_dead_letters_total")
                        .Help("Events refused for good by a destination, kept in dead_letter")
                        .Register(*registry_)
                        .Add({})),
      write_failures_(prometheus::BuildCounter()
                          .Name("vigie_forwarder_spool_write_failures_total")
                          .Help("Writes to the outbox that failed (disk full or I/O error)")
                          .Register(*registry_)
                          .Add({})),
      lost_events_(prometheus::BuildCounter()
                       .Name("vigie_forwarder_lost_events_total")
                       .Help("Events dropped from memory while the outbox could not be written "
                             "and unwritten_max_events were already waiting")
                       .Register(*registry_)
                       .Add({})) {}

Forwarder::~Forwarder() { stop(); }

namespace {

/// Completion of a forwarder loop. It holds `owner` (whatever owns the loop's cancellation
/// signal) until the coroutine has let go of the signal's slot, and reports an exception that
/// escaped the loop, which would be a bug.
template <typename Owner>
auto loopEnded(Owner owner, const char* loop) {
  return [owner = std::move(owner), loop](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        logError(std::string("forwarder ") + loop + " loop failed: " + e.what());
      }
    }
  };
}

}  // namespace

void Forwarder::stop() {
  stopDestinations();
  flush();  // a last chance for what waits in memory
  retry_write_.cancel();
  retry_armed_ = false;
  if (pendingWrites() > 0) {
    logError("stopping with " + std::to_string(pendingWrites()) +
             " state change(s) and event(s) never written to " + db_.database().path() +
             ": they are lost");
    pending_states_.clear();
    pending_events_.clear();
  }
}

void Forwarder::stopDestinations() {
  for (auto& [id, route] : routes_) {
    route->stopped = true;
    route->cancel.emit(asio::cancellation_type::terminal);
    route->restate_cancel.emit(asio::cancellation_type::terminal);
    route->check_cancel.emit(asio::cancellation_type::terminal);
  }
  routes_.clear();
  if (periodic_cancel_) {
    periodic_cancel_->emit(asio::cancellation_type::terminal);
    periodic_cancel_.reset();
  }
}

void Forwarder::configure(const ForwardingConfig& config) {
  if (configured_ && config == config_) {
    return;  // a reload that leaves forwarding alone keeps deliveries and timers running
  }
  configured_ = true;
  stopDestinations();  // what waits in memory for the disk stays, with its retry timer
  config_ = config;
  for (const auto& target : config.destinations) {
    // The configuration only holds types that are registered.
    const DestinationMaker make = findDestinationType(target->type());
    for (std::size_t i = 0; i < target->urls.size(); ++i) {
      auto route =
          std::make_shared<Route>(io_, make(target, i, destinationId(target->name, i), context_));
      routes_[route->destination->id()] = route;
      asio::co_spawn(
          io_, deliver(route),
          asio::bind_cancellation_slot(route->cancel.slot(), loopEnded(route, "delivery")));
      asio::co_spawn(
          io_, checkReferences(route),
          asio::bind_cancellation_slot(route->check_cancel.slot(), loopEnded(route, "check")));
      if (route->destination->restateInterval()) {
        asio::co_spawn(
            io_, restateLoop(route),
            asio::bind_cancellation_slot(route->restate_cancel.slot(), loopEnded(route, "resend")));
      }
    }
  }
  if (config.enabled()) {
    periodic_cancel_ = std::make_shared<asio::cancellation_signal>();
    asio::co_spawn(io_, periodicLoop(),
                   asio::bind_cancellation_slot(periodic_cancel_->slot(),
                                                loopEnded(periodic_cancel_, "heartbeat")));
  }
}

std::vector<OutboxEvent> Forwarder::fanOut(const Event& event) const {
  std::vector<OutboxEvent> rows;
  const std::string payload = toJson(event).dump();
  for (const auto& [id, route] : routes_) {
    if (event.heartbeat() && !route->destination->wantsHeartbeat()) {
      continue;
    }
    OutboxEvent row;
    row.destination = id;
    row.dedup_key = event.dedup_key;
    row.event_id = event.event_id;
    row.action = actionName(event.action);
    row.payload = payload;
    row.created_ms = wallMs();
    rows.push_back(std::move(row));
  }
  return rows;
}

void Forwarder::remember(const Event& event) {
  const std::string& key = event.dedup_key;
  if (event.action == EventAction::Trigger || event.action == EventAction::Update) {
    alerts_.firing[key] = event;
    alerts_.resolved.erase(key);
  } else if (event.action == EventAction::Resolve || event.action == EventAction::Retire) {
    alerts_.firing.erase(key);
    alerts_.resolved[key] = {event, Clock::now()};
  }
}

void Forwarder::assumeFiring(const Event& event) { remember(event); }

void Forwarder::record(std::vector<StateWrite> states, std::vector<Event> events) {
  for (const auto& event : events) {
    remember(event);
  }
  hold(std::move(states), std::move(events));
  if (!retry_armed_ && flush()) {
    wake();
  }
}

void Forwarder::hold(std::vector<StateWrite> states, std::vector<Event> events) {
  for (auto& [probe, state] : states) {
    pending_states_[probe] = std::move(state);
  }
  for (auto& event : events) {
    const auto same =
        std::find_if(pending_events_.begin(), pending_events_.end(),
                     [&event](const Event& held) { return held.dedup_key == event.dedup_key; });
    if (same != pending_events_.end()) {
      *same = mergeEvents(*same, std::move(event));
    } else {
      pending_events_.push_back(std::move(event));
    }
  }
  while (static_cast<std::int64_t>(pending_events_.size()) > config_.unwritten_max_events) {
    // The outbox's eviction order: heartbeats, updates, then the oldest.
    auto victim = pending_events_.begin();
    for (const EventAction action : {EventAction::Heartbeat, EventAction::Update}) {
      const auto found =
          std::find_if(pending_events_.begin(), pending_events_.end(),
                       [action](const Event& held) { return held.action == action; });
      if (found != pending_events_.end()) {
        victim = found;
        break;
      }
    }
    logError("outbox " + db_.database().path() + " unwritable and " +
             std::to_string(config_.unwritten_max_events) + " events already wait in memory: " +
             std::string(actionName(victim->action)) + " of key " + victim->dedup_key + " lost");
    lost_events_.Increment();
    pending_events_.erase(victim);
  }
}

bool Forwarder::flush() {
  if (pending_states_.empty() && pending_events_.empty()) {
    return false;
  }
  std::vector<OutboxEvent> rows;
  for (const auto& event : pending_events_) {
    auto fanned = fanOut(event);
    rows.insert(rows.end(), std::make_move_iterator(fanned.begin()),
                std::make_move_iterator(fanned.end()));
  }
  const std::vector<StateWrite> states(pending_states_.begin(), pending_states_.end());
  const WriteResult result = db_.commit(states, std::move(rows));
  if (result == WriteResult::Ok) {
    if (failed_writes_ > 0) {
      logInfo("outbox " + db_.database().path() + " writable again: " +
              std::to_string(pendingWrites()) + " state change(s) and event(s) written after " +
              std::to_string(failed_writes_) + " failed attempt(s)");
    }
    failed_writes_ = 0;
    pending_states_.clear();
    pending_events_.clear();
    return true;
  }
  write_failures_.Increment();
  if (failed_writes_++ % 60 == 0) {
    logError("cannot write the outbox " + db_.database().path() + " (" +
             (result == WriteResult::Full ? "disk or spool full" : "I/O error") +
             "): " + db_.database().lastError() + "; " + std::to_string(pending_states_.size()) +
             " state change(s) and " + std::to_string(pending_events_.size()) +
             " event(s) kept in memory (at most " + std::to_string(config_.unwritten_max_events) +
             " events), retrying every second");
  }
  retry_armed_ = true;
  retry_write_.expires_after(std::chrono::seconds(1));
  retry_write_.async_wait([this](const asio::error_code& ec) {
    if (ec) {
      return;  // stopped: `this` may be gone
    }
    retry_armed_ = false;
    db_.outbox().retryRemovals();
    if (flush()) {
      wake();
    }
  });
  return false;
}

void Forwarder::wake() {
  for (auto& [id, route] : routes_) {
    // The flag covers a loop that is not waiting yet: it must not sleep over new events.
    route->dirty = true;
    route->timer.cancel();
  }
}

void Forwarder::countFailure(const std::string& destination, const std::string& reason) {
  failures_.Add({{"adapter", destination}, {"reason", reason}}).Increment();
}

asio::awaitable<void> Forwarder::deliver(RoutePtr route) {
  Destination& destination = *route->destination;
  const auto spacing = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / config_.drain_rate));
  while (!route->stopped) {
    route->dirty = false;
    db_.outbox()
        .retryRemovals();  // acknowledged while the disk was full: gone once it can be written
    std::vector<OutboxEvent> batch = db_.outbox().due(destination.id(), wallMs(), 64);
    if (batch.empty()) {
      if (route->dirty) {
        continue;  // written while the outbox was being read
      }
      route->timer.expires_after(std::chrono::seconds(1));
      auto [ec] = co_await route->timer.async_wait(kNoThrow);
      if (ec && route->stopped) {
        co_return;
      }
      continue;
    }
    for (const OutboxEvent& event : batch) {
      if (route->stopped) {
        co_return;
      }
      const auto now = Clock::now();
      if (route->next_send > now) {
        route->timer.expires_at(route->next_send);
        co_await route->timer.async_wait(kNoThrow);
        if (route->stopped) {
          co_return;
        }
        if (Clock::now() < route->next_send) {
          break;  // woken early by new events: re-read the outbox in order
        }
      }
      if (const auto until = destination.heldUntil(event)) {
        db_.outbox().defer(event.id, *until);
        continue;
      }
      route->next_send = std::max(route->next_send, Clock::now()) + spacing;
      db_.outbox().attempting(event.id);
      const Attempt attempt = co_await destination.deliver(event);
      if (route->stopped) {
        co_return;
      }
      const Classified& result = attempt.result;
      if (observer_ && event.action != "heartbeat") {
        observer_(event, result);
      }
      if (result.outcome != Outcome::Delivered && attempt.retry_after) {
        route->next_send = std::max(route->next_send, Clock::now() + *attempt.retry_after);
      }
      if (result.outcome == Outcome::Delivered) {
        db_.outbox().delivered(event.id);
        route->failures = 0;
        last_success_[destination.id()] = static_cast<double>(wallMs()) / 1000.0;
        recovered(*route);
        continue;
      }
      countFailure(destination.id(), result.reason);
      if (result.outcome == Outcome::Permanent) {
        db_.outbox().deadLetter(event.id, result.reason);
        dead_letters_.Increment();
        logError("forwarding to " + destination.id() + " (" + destination.loggedUrl() +
                 "): event " + event.event_id + " (" + event.action + ", key " + event.dedup_key +
                 ") refused for good (" + result.reason + ": " + result.detail +
                 "); moved to dead_letter");
        continue;
      }
      // Retryable, auth or configuration: the whole destination pauses, so events keep their
      // order; what the receiver refuses slowly, the rest with backoff.
      const bool slow = result.outcome == Outcome::Auth || result.outcome == Outcome::Config;
      const auto pause =
          slow ? config_.backoff_cap
               : fullJitterBackoff(route->failures++, config_.backoff_base, config_.backoff_cap,
                                   std::uniform_real_distribution<double>(0, 1)(random_));
      route->next_send = std::max(route->next_send, Clock::now() + pause);
      failed(*route, result, pause);
      break;
    }
  }
}

void Forwarder::failed(Route& route, const Classified& result, Clock::duration pause) {
  const auto now = Clock::now();
  if (route.failed_attempts++ == 0) {
    route.failing_since = now;
  }
  const std::string& id = route.destination->id();
  const std::string where = "forwarding to " + id + " (" + route.destination->loggedUrl() + ")";
  if (result.outcome == Outcome::Config) {
    // Each new refusal once: the same one comes back every backoff_cap until a reload fixes it.
    if (result.detail != route.config_refusal) {
      route.config_refusal = result.detail;
      logError(where + ": the receiver refuses the configuration (" + result.reason +
               "): " + result.detail + "; events held, not dropped, and retried every " +
               seconds(pause) + " until the configuration is fixed");
    }
    return;
  }
  const std::string said = result.reason + ": " + result.detail;
  if (route.failed_attempts > 1 && said == route.failure_logged &&
      now - route.failure_logged_at < kFailureLogInterval) {
    return;
  }
  std::string line =
      where + (result.outcome == Outcome::Auth ? ": authentication refused (" : " failed (") +
      said + ")";
  if (route.failed_attempts > 1) {
    line += ", " + std::to_string(route.failed_attempts) + " failed attempts in " +
            seconds(now - route.failing_since);
  }
  line += "; events kept, next attempt in " + seconds(pause);
  if (result.outcome == Outcome::Auth) {
    logError(line);
  } else {
    logWarning(line);
  }
  route.failure_logged = said;
  route.failure_logged_at = now;
}

void Forwarder::recovered(Route& route) {
  if (route.failed_attempts > 0) {
    logInfo("forwarding to " + route.destination->id() + " (" + route.destination->loggedUrl() +
            ") is back after " + std::to_string(route.failed_attempts) + " failed attempt(s) in " +
            seconds(Clock::now() - route.failing_since));
  }
  route.failed_attempts = 0;
  route.failure_logged.clear();
  route.config_refusal.clear();
  route.reference_problems = false;
}

asio::awaitable<void> Forwarder::checkReferences(RoutePtr route) {
  std::string unreachable;
  const std::vector<std::string> problems =
      co_await route->destination->checkReferences(unreachable);
  if (route->stopped) {
    co_return;
  }
  const std::string& id = route->destination->id();
  for (const std::string& problem : problems) {
    logError("config error: forwarding " + id + " (" + route->destination->loggedUrl() +
             "): " + problem);
  }
  route->reference_problems = !problems.empty();
  if (!unreachable.empty()) {
    logWarning("forwarding to " + id + " (" + route->destination->loggedUrl() +
               "): cannot check what the configuration names there now (" + unreachable +
               "); checked again at the next reload, refusals are logged when delivering");
  }
}

asio::awaitable<void> Forwarder::restateLoop(RoutePtr route) {
  asio::steady_timer timer(io_);
  Destination& destination = *route->destination;
  const auto interval = *destination.restateInterval();
  while (!route->stopped) {
    const Classified result = co_await destination.restate();
    if (route->stopped) {
      co_return;
    }
    if (result.outcome == Outcome::Delivered) {
      last_success_[destination.id()] = static_cast<double>(wallMs()) / 1000.0;
    } else {
      countFailure(destination.id(), result.reason);
    }
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) {
      co_return;
    }
  }
}

std::vector<Event> Forwarder::reassertions() {
  std::vector<Event> again;
  for (const auto& [key, event] : alerts_.firing) {
    Event update = event;
    update.action = EventAction::Update;
    update.event_id = newEventId(std::chrono::system_clock::now());
    update.reassertion = true;
    update.previous_severity.reset();
    again.push_back(std::move(update));
  }
  return again;
}

void Forwarder::heartbeat() {
  record({}, {buildHeartbeat(agent_, std::chrono::system_clock::now())});
}

asio::awaitable<void> Forwarder::periodicLoop() {
  // Two clocks: a long heartbeat_interval must not delay the re-assertions.
  auto next_heartbeat = Clock::now();
  auto next_reassert = Clock::now() + config_.reassert_interval;
  while (true) {
    const auto now = Clock::now();
    if (now >= next_heartbeat) {
      heartbeat();
      next_heartbeat = now + config_.heartbeat_interval;
    }
    if (now >= next_reassert) {
      next_reassert = now + config_.reassert_interval;
      // Every destination is told again what still fires (a receiver that lost state catches
      // up; iTop gets a log entry within update_interval).
      std::vector<Event> again = reassertions();
      if (!again.empty()) {
        record({}, std::move(again));
      }
    }
    periodic_.expires_at(std::min(next_heartbeat, next_reassert));
    auto [ec] = co_await periodic_.async_wait(kNoThrow);
    if (ec) {
      co_return;
    }
  }
}

std::string Forwarder::renderMetrics() {
  auto families = registry_->Collect();
  // gauge() hands out pointers into `families`: no reallocation may move them.
  families.reserve(families.size() + 10);
  auto gauge = [&families](const std::string& name, const std::string& help) {
    families.push_back({name, help, prometheus::MetricType::Gauge, {}});
    return &families.back();
  };
  prometheus::ClientMetric metric;
  metric.gauge.value = static_cast<double>(db_.outbox().depth());
  gauge("vigie_forwarder_queue_depth", "Events in the outbox, all destinations")
      ->metric.push_back(metric);
  const auto oldest = db_.outbox().oldestCreatedMs();
  metric.gauge.value =
      oldest ? std::max(0.0, static_cast<double>(wallMs() - *oldest) / 1000.0) : 0.0;
  gauge("vigie_forwarder_oldest_event_age_seconds", "Age of the oldest event in the outbox")
      ->metric.push_back(metric);
  metric.gauge.value = static_cast<double>(db_.outbox().bytes());
  gauge("vigie_forwarder_spool_bytes", "Payload bytes of the events in the outbox")
      ->metric.push_back(metric);
  metric.gauge.value = static_cast<double>(pendingWrites());
  gauge("vigie_forwarder_unwritten_changes",
        "Probe states and events held in memory because the outbox could not be written")
      ->metric.push_back(metric);
  metric.gauge.value = static_cast<double>(db_.outbox().evicted());
  gauge("vigie_forwarder_evicted_events",
        "Events dropped because the outbox was full (since start)")
      ->metric.push_back(metric);
  auto* success = gauge("vigie_forwarder_last_success_timestamp_seconds",
                        "Time of the last successful delivery to a destination");
  for (const auto& [id, route] : routes_) {
    prometheus::ClientMetric per;
    per.label.push_back({"adapter", id});
    auto it = last_success_.find(id);
    per.gauge.value = it == last_success_.end() ? 0 : it->second;
    success->metric.push_back(per);
  }
  auto* config_error =
      gauge("vigie_forwarder_config_error",
            "1 while a destination refuses what the configuration names (iTop: organization, "
            "class, caller, service, rights) or its last check found such a problem");
  for (const auto& [id, route] : routes_) {
    prometheus::ClientMetric per;
    per.label.push_back({"adapter", id});
    per.gauge.value = route->reference_problems || !route->config_refusal.empty() ? 1 : 0;
    config_error->metric.push_back(per);
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace vigie
