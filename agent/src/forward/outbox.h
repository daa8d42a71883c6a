// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "forward/state_database.h"

namespace vigie {

/// One event waiting for one destination.
struct OutboxEvent {
  std::int64_t id = 0;  ///< row id, set by the outbox
  std::string destination;
  std::string dedup_key;
  std::string event_id;
  std::string action;
  std::string payload;  ///< the canonical JSON event
  std::int64_t created_ms = 0;
  std::int64_t attempts = 0;
  std::int64_t next_attempt_ms = 0;
};

/// The iTop ticket opened for one alert key. `creating` is set before a core/create is sent
/// and cleared when its answer is known: still set means the outcome was ambiguous.
struct TicketRef {
  std::int64_t id = 0;
  std::string ref;
  bool creating = false;
};

/// What remains of an iTop ticket after its alert resolved: events of the key up to `seq` are
/// late or duplicates and must neither reopen it nor create another (docs/ALERTING.md).
struct Tombstone {
  std::int64_t seq = 0;
  std::int64_t ticket_id = 0;
  std::int64_t until_ms = 0;  ///< wall clock; forgotten afterwards
};

/// The events not yet delivered, per destination, with the dead letters and the iTop tickets
/// and tombstones, in the state database. Calls block, but they are small local writes, so they
/// run on the event loop.
class Outbox {
 public:
  Outbox(StateDatabase& db, std::int64_t max_events, std::int64_t max_bytes)
      : db_(db), max_events_(max_events), max_bytes_(max_bytes) {}

  /// Queues the event, coalesced with its key's unsent one, inside the caller's transaction
  /// (AlertDb::commit): SQLITE_DONE or the code of the step that failed.
  int enqueue(OutboxEvent& event);

  /// The oldest undelivered event of each key for `destination`, due at `now_ms`, oldest first.
  std::vector<OutboxEvent> due(const std::string& destination, std::int64_t now_ms,
                               std::size_t limit);
  /// The event as it is stored now (it may have absorbed newer transitions since due() read
  /// it), or nothing once it is gone (evicted).
  std::optional<OutboxEvent> event(std::int64_t id);
  /// The earliest time an event of `destination` becomes due, if any is queued.
  std::optional<std::int64_t> nextDue(const std::string& destination);
  /// Removes an acknowledged event. When the delete cannot be written (disk full) the event is
  /// remembered as acknowledged: never due again nor merged into, removed by retryRemovals().
  void delivered(std::int64_t id);
  void retryRemovals();
  /// Marks the event as being sent, before the request leaves: from then on it keeps its
  /// event_id and nothing merges into it (a merge into an event in flight would be deleted
  /// with it when the receiver acknowledges the older content).
  void attempting(std::int64_t id);
  /// Holds the event back until `next_attempt_ms` without counting an attempt: it was not sent,
  /// so the key's next event may still merge into it (and the merge makes it due at once).
  void defer(std::int64_t id, std::int64_t next_attempt_ms);
  /// Moves the event to the dead-letter table (when that cannot be written, it is only removed,
  /// as delivered() does).
  void deadLetter(std::int64_t id, const std::string& reason);

  std::int64_t depth();
  /// Bytes of event payloads in the outbox, what spool_max_bytes bounds.
  std::int64_t bytes();
  std::optional<std::int64_t> oldestCreatedMs();
  std::int64_t evicted() const { return evicted_; }
  std::int64_t deadLetters();

  void setMaxEvents(std::int64_t max_events) { max_events_ = max_events; }
  void setMaxBytes(std::int64_t max_bytes) { max_bytes_ = max_bytes; }

  std::optional<TicketRef> ticket(const std::string& destination, const std::string& key);
  void saveTicket(const std::string& destination, const std::string& key, const TicketRef& ref);
  void forgetTicket(const std::string& destination, const std::string& key);
  /// The key's ticket is done with: forgets it and leaves `stone` instead, in one transaction.
  bool buryTicket(const std::string& destination, const std::string& key, const Tombstone& stone,
                  std::int64_t now_ms);
  /// The key's tombstone if it still stands at `now_ms`.
  std::optional<Tombstone> tombstone(const std::string& destination, const std::string& key,
                                     std::int64_t now_ms);

  StateDatabase& database() { return db_; }

 private:
  /// Evicts one event by the documented order, never `keep`; false if nothing could go.
  bool evictOne(std::int64_t keep);
  /// Evicts until `rows` more rows of `bytes` more bytes fit both bounds. An event alone over
  /// max_bytes still stays: losing it would be worse than a spool a little over its bound.
  void makeRoom(std::int64_t rows, std::int64_t bytes, std::int64_t keep);

  StateDatabase& db_;
  std::int64_t max_events_;
  std::int64_t max_bytes_;
  std::int64_t evicted_ = 0;
  std::set<std::int64_t> unremoved_;
};

/// mergeActions (alert/event.h) on the outbox's action names; an unknown name gives `later`.
std::string mergeActions(const std::string& earlier, const std::string& later);
/// `later` absorbing `earlier`: the merged action, both histories in order, later's identity.
nlohmann::json mergeEvents(const nlohmann::json& earlier, nlohmann::json later);

}  // namespace vigie
