// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

/// What a write reports: SQLITE_FULL and I/O errors must not crash the agent.
enum class WriteResult { Ok, Full, Failed };

/// The agent's durable memory, one SQLite file under state_dir: the alert state of every probe
/// and the outbox of events not yet delivered, updated together in one transaction so that a
/// state change and the events it produces are on disk together or not at all. WAL journal with
/// synchronous=FULL: a commit is fsync'd before it returns. Calls block, but they are small local
/// writes (one per state change), so they run on the event loop.
class AlertDb {
 public:
  /// Opens or creates the database; throws std::runtime_error when it cannot.
  AlertDb(const std::string& path, std::int64_t max_events);
  ~AlertDb();
  AlertDb(const AlertDb&) = delete;
  AlertDb& operator=(const AlertDb&) = delete;

  /// Persisted alert states, probe name to JSON.
  std::map<std::string, std::string> loadStates();

  /// Writes the probe's state and enqueues `events` (coalesced per destination and key) in one
  /// durable transaction. Sequence numbers per dedup_key are assigned here, inside `payload`.
  WriteResult commit(const std::vector<std::pair<std::string, std::string>>& states,
                     std::vector<OutboxEvent> events);
  void forgetState(const std::string& probe);

  /// The oldest undelivered event of each key for `destination`, due at `now_ms`, oldest first.
  std::vector<OutboxEvent> due(const std::string& destination, std::int64_t now_ms,
                               std::size_t limit);
  /// The earliest time an event of `destination` becomes due, if any is queued.
  std::optional<std::int64_t> nextDue(const std::string& destination);
  void delivered(std::int64_t id);
  void retryLater(std::int64_t id, std::int64_t next_attempt_ms);
  /// Moves the event to the dead-letter table.
  void deadLetter(std::int64_t id, const std::string& reason);

  std::int64_t depth();
  std::optional<std::int64_t> oldestCreatedMs();
  std::int64_t evicted() const { return evicted_; }
  std::int64_t deadLetters();
  std::int64_t pageCount();

  void setMaxEvents(std::int64_t max_events) { max_events_ = max_events; }
  std::optional<TicketRef> ticket(const std::string& destination, const std::string& key);
  void saveTicket(const std::string& destination, const std::string& key, const TicketRef& ref);
  void forgetTicket(const std::string& destination, const std::string& key);

  /// Limits the file to `pages` pages (tests use it to simulate a full disk).
  void setMaxPageCount(std::int64_t pages);

 private:
  class Statement;
  void exec(const char* sql);
  std::int64_t scalar(const char* sql);
  /// Makes room for one event by the documented eviction order; false if nothing could go.
  bool evictOne();
  bool enqueue(OutboxEvent& event);

  sqlite3* db_ = nullptr;
  std::int64_t max_events_;
  std::int64_t evicted_ = 0;
};

/// Merges a new event into an older one that was never sent: the action the receiver must see
/// to go from what it knew to the new state (e.g. trigger then resolve → resolve).
std::string mergeActions(const std::string& earlier, const std::string& later);

}  // namespace vigie
