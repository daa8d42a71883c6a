// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alert/event.h"
#include "forward/delivery.h"
#include "forward/forward_config.h"
#include "forward/outbox.h"

namespace vigie {

/// What the forwarder remembers of the alerts it told, for destinations that restate them.
struct AlertMemory {
  /// dedup_key → the latest firing event.
  std::map<std::string, Event> firing;
  /// dedup_key → a resolved event and when it was resolved, kept for a while.
  std::map<std::string, std::pair<Event, std::chrono::steady_clock::time_point>> resolved;
};

/// What a destination may use beside its own settings.
struct DestinationContext {
  Outbox& outbox;
  std::string agent;
  AlertMemory& alerts;
};

/// One attempt at delivering one event.
struct Attempt {
  Classified result;
  /// The receiver asked to wait this long before the next attempt (Retry-After).
  std::optional<std::chrono::seconds> retry_after;
};

/// One receiver URL of a configured destination. The forwarder owns the order, the pacing and
/// the retries; a destination only knows its receiver: the request it expects, how to read the
/// answer, what it wants and what it holds back.
class Destination {
 public:
  Destination(std::string id, std::shared_ptr<const DestinationTarget> target, std::string url)
      : id_(std::move(id)), target_(std::move(target)), url_(std::move(url)) {}
  virtual ~Destination() = default;
  Destination(const Destination&) = delete;
  Destination& operator=(const Destination&) = delete;

  /// The outbox's name for it: the target's name, "#N" for its N-th URL.
  const std::string& id() const { return id_; }
  /// Whether heartbeats are queued for it.
  virtual bool wantsHeartbeat() const { return false; }
  /// When the event must wait in the outbox before it is sent (the key's next events merge
  /// into it meanwhile); nothing: send it now.
  virtual std::optional<std::int64_t> heldUntil(const OutboxEvent& /*event*/) const {
    return std::nullopt;
  }
  /// Sends one event and classifies the answer. By default one POST of request().
  virtual asio::awaitable<Attempt> deliver(const OutboxEvent& event);
  /// How often restate() runs beside delivery; nothing: it does not run.
  virtual std::optional<std::chrono::milliseconds> restateInterval() const { return std::nullopt; }
  /// Tells the receiver again all it must keep knowing (Alertmanager's alerts expire).
  virtual asio::awaitable<Classified> restate();
  /// Asks the receiver whether what the configuration names exists (iTop: organization,
  /// caller, service, classes) and may be used; each problem as "<key>: <what is wrong>". An
  /// unreachable receiver is not a problem of the configuration: `unreachable` says why.
  virtual asio::awaitable<std::vector<std::string>> checkReferences(std::string& unreachable);
  /// The receiver's URL without credentials, for the log.
  std::string loggedUrl() const;

 protected:
  struct Request {
    std::string body;
    std::vector<std::string> headers;
  };
  /// The POST that delivers `event`, for destinations that use the default deliver().
  virtual Request request(const OutboxEvent& event) const;

  const HttpTarget& target() const { return *target_; }
  const std::string& url() const { return url_; }

 private:
  std::string id_;
  /// Shared: a request still in flight when a reload replaces the configuration uses it.
  std::shared_ptr<const DestinationTarget> target_;
  std::string url_;
};

/// Builds the destination of `target->urls[index]`, named `id` in the outbox.
using DestinationMaker = std::unique_ptr<Destination> (*)(
    const std::shared_ptr<const DestinationTarget>& target, std::size_t index, std::string id,
    DestinationContext& context);

/// The maker registered for a destination type name (webhook, alertmanager, itop), if any.
DestinationMaker findDestinationType(std::string_view type);

/// The headers of every event POST: JSON, its event_id as Idempotency-Key, our User-Agent.
std::vector<std::string> eventHeaders(const OutboxEvent& event);

}  // namespace vigie
