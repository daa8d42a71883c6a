// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "forward/alert_state_store.h"
#include "forward/outbox.h"
#include "forward/state_database.h"

namespace vigie {

/// What a write reports: SQLITE_FULL and I/O errors must not crash the agent.
enum class WriteResult { Ok, Full, Failed };

/// The agent's durable memory, one SQLite file under state_dir holding two stores: the alert
/// state of every probe and the outbox of events not yet delivered. commit() updates both in
/// one transaction, so that a state change and the events it produces are on disk together or
/// not at all.
class AlertDb {
 public:
  /// Opens, creates or migrates the database; throws as StateDatabase does.
  AlertDb(const std::string& path, std::int64_t max_events,
          std::int64_t max_bytes = std::int64_t{64} << 20)
      : database_(path), states_(database_), outbox_(database_, max_events, max_bytes) {}

  /// Writes (or forgets) probe states and enqueues `events` (coalesced per destination and key)
  /// in one durable transaction: the only way states are written. Sequence numbers per
  /// dedup_key are assigned here, inside `payload`.
  WriteResult commit(const std::vector<StateWrite>& states, std::vector<OutboxEvent> events);

  AlertStateStore& states() { return states_; }
  Outbox& outbox() { return outbox_; }
  StateDatabase& database() { return database_; }

 private:
  StateDatabase database_;
  AlertStateStore states_;
  Outbox outbox_;
};

}  // namespace vigie
