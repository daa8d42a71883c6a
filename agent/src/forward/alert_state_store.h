// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "forward/state_database.h"

namespace vigie {

/// A probe's alert state to persist (encoded), or nothing: forget the probe's saved state.
using StateWrite = std::pair<std::string, std::optional<std::string>>;

/// The alert state of every probe and the sequence number of every alert key, in the state
/// database. Writes run inside the caller's transaction (AlertDb::commit), so that a state and
/// the events it produced are durable together.
class AlertStateStore {
 public:
  explicit AlertStateStore(StateDatabase& db) : db_(db) {}

  /// Persisted alert states, probe name to JSON.
  std::map<std::string, std::string> load();
  /// Saves or forgets one probe's state: SQLITE_DONE or the failing code.
  int write(const StateWrite& state);
  /// Advances the key's sequence number into `seq`, to the saved one plus one or `now_ms`
  /// (wall clock) if that is more: SQLITE_ROW or the failing code.
  int nextSeq(const std::string& dedup_key, std::int64_t now_ms, std::int64_t& seq);

 private:
  StateDatabase& db_;
};

}  // namespace vigie
