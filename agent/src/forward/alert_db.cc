// SPDX-License-Identifier: Apache-2.0
#include "forward/alert_db.h"

#include <map>
#include <nlohmann/json.hpp>

namespace vigie {

WriteResult AlertDb::commit(const std::vector<StateWrite>& states,
                            std::vector<OutboxEvent> events) {
  auto failed = [this](int code) {
    database_.rollback(code);
    return (code & 0xff) == SQLITE_FULL ? WriteResult::Full : WriteResult::Failed;
  };
  if (const int code = database_.begin(); code != SQLITE_OK) {
    return failed(code);
  }
  for (const StateWrite& state : states) {
    if (const int code = states_.write(state); code != SQLITE_DONE) {
      return failed(code);
    }
  }
  // One sequence number per key and emitted transition, shared by every destination.
  std::map<std::string, std::int64_t> seq_of;
  for (OutboxEvent& event : events) {
    auto [it, fresh] = seq_of.try_emplace(event.event_id, 0);
    if (fresh) {
      if (const int code = states_.nextSeq(event.dedup_key, it->second); code != SQLITE_ROW) {
        return failed(code);
      }
    }
    auto payload = nlohmann::json::parse(event.payload);
    payload["seq"] = it->second;
    event.payload = payload.dump();
    if (const int code = outbox_.enqueue(event); code != SQLITE_DONE) {
      return failed(code);
    }
  }
  if (const int code = database_.commit(); code != SQLITE_OK) {
    return failed(code);
  }
  return WriteResult::Ok;
}

}  // namespace vigie
