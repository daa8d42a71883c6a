// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "alert/silences.h"
#include "forward/state_database.h"
#include "state/state_store.h"

namespace vigie {

/// One line of the audit trail: who did what, when, through which door.
struct AuditEntry {
  WallTime at{};
  std::string author;
  std::string via;  ///< http, socket or form
  std::string action;
  std::string target;
  std::string detail;
};

/// One undelivered-event summary per destination, and its dead letters (docs/API.md, Outbox).
struct OutboxSummary {
  std::string destination;
  std::int64_t pending = 0;
  std::int64_t oldest_pending_ms = 0;  ///< 0 when nothing is pending
  std::int64_t dead_letters = 0;
};
struct DeadLetter {
  std::int64_t id = 0;
  std::string dedup_key;
  std::string probe;
  std::string action;
  std::int64_t created_ms = 0;
  std::string reason;
};

/// The operator console's durable part in the state database (schema version 3):
/// acknowledgements and silences survive restarts, the audit trail keeps its last kAuditKept
/// lines. Small local writes on the event loop, like the outbox's. A failed write is logged and
/// reported false: the action still holds in memory until the agent restarts.
class ConsoleDb {
 public:
  static constexpr std::int64_t kAuditKept = 10'000;

  explicit ConsoleDb(StateDatabase& db) : db_(db) {}

  bool saveAcknowledgement(const std::string& probe, const Acknowledgement& ack);
  bool forgetAcknowledgement(const std::string& probe);
  std::map<std::string, Acknowledgement> acknowledgements();

  bool saveSilence(const Silence& silence);
  bool forgetSilence(const std::string& id);
  std::vector<Silence> silences();

  bool audit(const AuditEntry& entry);
  /// Newest first.
  std::vector<AuditEntry> auditTrail(std::int64_t limit);

  std::vector<OutboxSummary> outbox();
  std::vector<DeadLetter> deadLetters(const std::string& destination);
  /// Puts a dead letter back in its destination's queue; false when there is no such letter.
  bool replay(const std::string& destination, std::int64_t id, std::int64_t now_ms);

 private:
  bool write(StateDatabase::Statement& statement, const char* what);

  StateDatabase& db_;
};

}  // namespace vigie
