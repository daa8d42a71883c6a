// SPDX-License-Identifier: Apache-2.0
#include "forward/alert_state_store.h"

namespace vigie {

std::map<std::string, std::string> AlertStateStore::load() {
  std::map<std::string, std::string> states;
  auto statement = db_.prepare("SELECT probe, state FROM alert_state");
  while (statement.step() == SQLITE_ROW) {
    states.emplace(statement.text(0), statement.text(1));
  }
  return states;
}

int AlertStateStore::write(const StateWrite& state) {
  const auto& [probe, encoded] = state;
  if (!encoded) {
    auto forget = db_.prepare("DELETE FROM alert_state WHERE probe = ?");
    return forget.bind(1, probe).step();
  }
  auto save = db_.prepare("INSERT OR REPLACE INTO alert_state (probe, state) VALUES (?, ?)");
  return save.bind(1, probe).bind(2, *encoded).step();
}

int AlertStateStore::nextSeq(const std::string& dedup_key, std::int64_t now_ms, std::int64_t& seq) {
  // Never below the wall clock in milliseconds: a key whose saved sequence is lost with the
  // state database starts again above anything it sent before (docs/ALERTING.md, `seq`).
  auto next = db_.prepare(
      "INSERT INTO key_seq (dedup_key, seq) VALUES (?1, ?2) ON CONFLICT(dedup_key) "
      "DO UPDATE SET seq = MAX(seq + 1, ?2) RETURNING seq");
  const int code = next.bind(1, dedup_key).bind(2, now_ms).step();
  if (code == SQLITE_ROW) {
    seq = next.integer(0);
  }
  return code;
}

}  // namespace vigie
