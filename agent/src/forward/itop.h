// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "forward/delivery.h"
#include "forward/destination.h"
#include "forward/forward_config.h"
#include "forward/outbox.h"

namespace vigie {

/// Classifies an iTop answer: HTTP first, then the JSON `code` (the status is always 200).
Classified classifyItop(const HttpReply& reply, const nlohmann::json& body);

/// The `json_data` of each iTop operation the adapter uses (pure, tested).
nlohmann::json itopCreate(const ItopTarget& target, const nlohmann::json& event,
                          const std::string& comment, bool link_ci);
nlohmann::json itopLog(const ItopTarget& target, std::int64_t ticket, const std::string& message,
                       const std::string& comment);
nlohmann::json itopAutoresolve(const ItopTarget& target, std::int64_t ticket,
                               const std::string& solution, const std::string& comment);
nlohmann::json itopFindByMarker(const ItopTarget& target, const std::string& dedup_key);
nlohmann::json itopFindCi(const ItopTarget& target, const std::string& ci_name);

nlohmann::json itopGetTicket(const ItopTarget& target, std::int64_t ticket);

/// iTop's statuses of a ticket that is no longer open: the agent never writes to it again.
bool itopTicketFinal(const std::string& status);

/// Delivers canonical events to one iTop URL (docs/ALERTING.md, iTop adapter): a ticket per
/// key, created once (looked up by its [VIGIE:key] title marker after an ambiguous create);
/// updates and the resolve as log entries or ev_autoresolve, on a ticket checked to be still
/// open (a new one otherwise); updates at most once per update_interval per key (held in the
/// outbox and coalesced meanwhile); CI lookups cached; resolved keys tombstoned so that late
/// or duplicate events leave the ticket alone. Heartbeats are not sent to iTop. Lives on the
/// event loop with its destination; the caches are lost on restart, the tombstones are not.
class ItopAdapter {
 public:
  ItopAdapter(ItopTarget target, std::string url, std::string destination, Outbox& outbox,
              std::string agent);

  /// When an update comes sooner than update_interval after the key's last write: the time
  /// it may go. It then waits in the outbox, where the key's next events merge into it (the
  /// latest state is what is written; a resolve merging in makes it due at once).
  std::optional<std::int64_t> heldUntil(const OutboxEvent& event) const;
  asio::awaitable<Classified> deliver(const OutboxEvent& event);
  /// Looks up, with core/get, what the configuration names: the organization, caller and
  /// service, the ticket and CI classes (and so the credentials and the read rights).
  asio::awaitable<std::vector<std::string>> checkReferences(std::string& unreachable);

 private:
  using Clock = std::chrono::steady_clock;
  struct CiLookup {
    bool link = false;  ///< exactly one CI bears the name
    Clock::time_point at;
  };

  /// The ticket of the key if iTop still has it open; forgets it otherwise.
  asio::awaitable<Classified> checkOpen(const std::string& key, std::optional<TicketRef>& ticket);
  asio::awaitable<Classified> lookUpCi(const std::string& ci, bool& link);
  /// The resolve reached iTop: forget the ticket, leave a tombstone.
  void bury(const std::string& key, std::int64_t seq, std::int64_t ticket);

  ItopTarget target_;
  std::string url_;
  std::string destination_;
  Outbox& outbox_;
  std::string agent_;
  std::map<std::string, CiLookup> ci_cache_;
  /// dedup_key → when its ticket was last written (created or logged), for update_interval.
  std::map<std::string, Clock::time_point> last_write_;
};

/// The `itop` destination type: an ItopAdapter per URL.
std::unique_ptr<Destination> makeItop(const std::shared_ptr<const DestinationTarget>& target,
                                      std::size_t index, std::string id,
                                      DestinationContext& context);

}  // namespace vigie
