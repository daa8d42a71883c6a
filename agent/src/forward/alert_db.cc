// SPDX-License-Identifier: Apache-2.0
#include "forward/alert_db.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "forward/delivery.h"

namespace vigie {

WriteResult AlertDb::commit(const std::vector<StateWrite>& states,
                            std::vector<OutboxEvent> events) {
  auto failed = [this](int code) {
    database_.rollback(code);
    return (code & 0xff) == SQLITE_FULL ? WriteResult::Full : WriteResult::Failed;
  };
  database_.checkFile();  // a file deleted meanwhile is recreated before this write
  if (const int code = database_.begin(); code != SQLITE_OK) {
    return failed(code);
  }
  for (const StateWrite& state : states) {
    if (const int code = states_.write(state); code != SQLITE_DONE) {
      return failed(code);
    }
  }
  // One sequence number per key and transition, shared by every destination: each history
  // item not numbered yet (one for a new event, several for events coalesced in memory while
  // the disk was full) gets its own, and the event carries its last transition's.
  const std::int64_t now_ms = wallMs();
  std::map<std::string, std::vector<std::int64_t>> seqs_of;
  for (OutboxEvent& event : events) {
    auto payload = nlohmann::json::parse(event.payload);
    auto& history = payload["history"];
    std::size_t unnumbered = 0;
    for (const auto& item : history) {
      unnumbered += item.contains("seq") ? 0 : 1;
    }
    auto [it, fresh] = seqs_of.try_emplace(event.event_id);
    if (fresh) {
      it->second.resize(std::max<std::size_t>(unnumbered, 1));
      for (std::int64_t& seq : it->second) {
        if (const int code = states_.nextSeq(event.dedup_key, now_ms, seq); code != SQLITE_ROW) {
          return failed(code);
        }
      }
    }
    std::size_t next = 0;
    for (auto& item : history) {
      if (!item.contains("seq") && next < it->second.size()) {
        item["seq"] = it->second[next++];
      }
    }
    payload["seq"] = it->second.back();
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
