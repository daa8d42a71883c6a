// SPDX-License-Identifier: Apache-2.0
#include "forward/alert_db.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace vigie {

class AlertDb::Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& text) {
    sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(statement_); }
  std::int64_t integer(int column) { return sqlite3_column_int64(statement_, column); }
  std::string text(int column) {
    const auto* data = sqlite3_column_text(statement_, column);
    return data == nullptr
               ? std::string()
               : std::string(reinterpret_cast<const char*>(data),
                             static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
  }
  bool isNull(int column) { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  sqlite3_stmt* handle() { return statement_; }

 private:
  sqlite3_stmt* statement_ = nullptr;
};

AlertDb::AlertDb(const std::string& path, std::int64_t max_events, std::int64_t max_bytes)
    : path_(path), max_events_(max_events), max_bytes_(max_bytes) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string error = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + path + ": " + error);
  }
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE IF NOT EXISTS alert_state (probe TEXT PRIMARY KEY, state TEXT NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS key_seq (dedup_key TEXT PRIMARY KEY, seq INTEGER NOT NULL)");
    exec(
        "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "destination TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL, "
        "action TEXT NOT NULL, payload TEXT NOT NULL, created_ms INTEGER NOT NULL, "
        "attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL DEFAULT 0, "
        "bytes INTEGER NOT NULL DEFAULT 0)");
    if (scalar("SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'bytes'") == 0) {
      // An outbox written before spool_max_bytes existed.
      exec("ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0");
      exec("UPDATE outbox SET bytes = length(CAST(payload AS BLOB))");
    }
    exec("CREATE INDEX IF NOT EXISTS outbox_key ON outbox (destination, dedup_key, id)");
    // Covers the size sum, so bounding by bytes does not read every payload.
    exec("CREATE INDEX IF NOT EXISTS outbox_bytes ON outbox (bytes)");
    exec(
        "CREATE TABLE IF NOT EXISTS itop_ticket (destination TEXT NOT NULL, dedup_key TEXT NOT "
        "NULL, ticket_id INTEGER NOT NULL, ref TEXT NOT NULL, creating INTEGER NOT NULL, "
        "PRIMARY KEY (destination, dedup_key))");
    exec(
        "CREATE TABLE IF NOT EXISTS itop_tombstone (destination TEXT NOT NULL, dedup_key TEXT "
        "NOT NULL, seq INTEGER NOT NULL, ticket_id INTEGER NOT NULL, until_ms INTEGER NOT NULL, "
        "PRIMARY KEY (destination, dedup_key))");
    exec(
        "CREATE TABLE IF NOT EXISTS dead_letter (id INTEGER PRIMARY KEY, destination TEXT, "
        "dedup_key TEXT, event_id TEXT, action TEXT, payload TEXT, reason TEXT, at_ms INTEGER)");
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

AlertDb::~AlertDb() { sqlite3_close(db_); }

void AlertDb::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error(std::string("sqlite: ") + message);
  }
}

std::int64_t AlertDb::scalar(const char* sql) {
  Statement statement(db_, sql);
  return statement.step() == SQLITE_ROW ? statement.integer(0) : 0;
}

std::string AlertDb::lastError() const {
  return last_error_.empty() ? sqlite3_errmsg(db_) : last_error_;
}

void AlertDb::setMaxPageCount(std::int64_t pages) {
  exec(("PRAGMA max_page_count=" + std::to_string(pages)).c_str());
}

std::map<std::string, std::string> AlertDb::loadStates() {
  std::map<std::string, std::string> states;
  Statement statement(db_, "SELECT probe, state FROM alert_state");
  while (statement.step() == SQLITE_ROW) {
    states.emplace(statement.text(0), statement.text(1));
  }
  return states;
}

std::string mergeActions(const std::string& earlier, const std::string& later) {
  const auto before = parseAction(earlier);
  const auto after = parseAction(later);
  if (!before || !after) {
    return later;
  }
  return std::string(actionName(mergeActions(*before, *after)));
}

nlohmann::json mergeEvents(const nlohmann::json& earlier, nlohmann::json later) {
  const std::string action = mergeActions(earlier.value("action", ""), later.value("action", ""));
  if (earlier.contains("history") && later.contains("history")) {
    auto history = earlier["history"];
    for (const auto& item : later["history"]) {
      history.push_back(item);
    }
    later["history"] = std::move(history);
  }
  later["action"] = action;
  return later;
}

bool AlertDb::evictOne(std::int64_t keep) {
  // Order documented in docs/ALERTING.md: heartbeats, then updates never sent, then the oldest
  // event of all. Triggers and resolves go last because they open and close tickets.
  for (const char* sql :
       {"DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE "
        "action = 'heartbeat' AND id != ?1)",
        "DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE "
        "action = 'update' AND attempts = 0 AND id != ?1)",
        "DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE id != ?1)"}) {
    Statement statement(db_, sql);
    statement.bind(1, keep).step();
    if (sqlite3_changes(db_) > 0) {
      ++evicted_;
      return true;
    }
  }
  return false;
}

void AlertDb::makeRoom(std::int64_t rows, std::int64_t bytes, std::int64_t keep) {
  Statement totals(db_, "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM outbox");
  while (true) {
    sqlite3_reset(totals.handle());
    if (totals.step() != SQLITE_ROW) {
      return;
    }
    const std::int64_t count = totals.integer(0);
    const std::int64_t size = totals.integer(1);
    if ((count + rows <= max_events_ && size + bytes <= max_bytes_) || !evictOne(keep)) {
      return;
    }
  }
}

int AlertDb::enqueue(OutboxEvent& event) {
  // Per-key coalescing: an event never attempted can absorb the next one of the same key, so
  // the outbox holds at most two events per key and destination (the one being sent, the rest).
  Statement last(db_,
                 "SELECT id, action, payload, attempts FROM outbox WHERE destination = ? AND "
                 "dedup_key = ? ORDER BY id DESC LIMIT 1");
  last.bind(1, event.destination).bind(2, event.dedup_key);
  if (last.step() == SQLITE_ROW && last.integer(3) == 0 && unremoved_.count(last.integer(0)) == 0) {
    const std::int64_t id = last.integer(0);
    const auto merged =
        mergeEvents(nlohmann::json::parse(last.text(2)), nlohmann::json::parse(event.payload));
    const std::string payload = merged.dump();
    // Due at once: a hold (an iTop update rate limit) must not delay what it merged with.
    Statement update(db_,
                     "UPDATE outbox SET event_id = ?, action = ?, payload = ?, bytes = ?, "
                     "next_attempt_ms = 0 WHERE id = ?");
    update.bind(1, event.event_id)
        .bind(2, merged["action"].get<std::string>())
        .bind(3, payload)
        .bind(4, static_cast<std::int64_t>(payload.size()))
        .bind(5, id);
    const int done = update.step();
    if (done == SQLITE_DONE) {
      makeRoom(0, 0, id);
    }
    return done;
  }
  makeRoom(1, static_cast<std::int64_t>(event.payload.size()), 0);
  Statement insert(db_,
                   "INSERT INTO outbox (destination, dedup_key, event_id, action, payload, "
                   "created_ms, next_attempt_ms, bytes) VALUES (?, ?, ?, ?, ?, ?, 0, ?)");
  insert.bind(1, event.destination)
      .bind(2, event.dedup_key)
      .bind(3, event.event_id)
      .bind(4, event.action)
      .bind(5, event.payload)
      .bind(6, event.created_ms)
      .bind(7, static_cast<std::int64_t>(event.payload.size()));
  return insert.step();
}

WriteResult AlertDb::commit(const std::vector<StateWrite>& states,
                            std::vector<OutboxEvent> events) {
  // `code` is what the failed call returned: a finalized statement no longer leaves it in the
  // connection, and ROLLBACK would replace the message.
  auto failed = [this](int code) {
    last_error_ =
        sqlite3_extended_errcode(db_) == code ? sqlite3_errmsg(db_) : sqlite3_errstr(code);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return (code & 0xff) == SQLITE_FULL ? WriteResult::Full : WriteResult::Failed;
  };
  if (const int code = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      code != SQLITE_OK) {
    return failed(code);
  }
  for (const auto& [probe, state] : states) {
    if (!state) {
      Statement forget(db_, "DELETE FROM alert_state WHERE probe = ?");
      if (const int code = forget.bind(1, probe).step(); code != SQLITE_DONE) {
        return failed(code);
      }
      continue;
    }
    Statement save(db_, "INSERT OR REPLACE INTO alert_state (probe, state) VALUES (?, ?)");
    if (const int code = save.bind(1, probe).bind(2, *state).step(); code != SQLITE_DONE) {
      return failed(code);
    }
  }
  // One sequence number per key and emitted transition, shared by every destination.
  std::map<std::string, std::int64_t> seq_of;
  for (OutboxEvent& event : events) {
    auto [it, fresh] = seq_of.try_emplace(event.event_id, 0);
    if (fresh) {
      Statement next(db_,
                     "INSERT INTO key_seq (dedup_key, seq) VALUES (?, 1) ON CONFLICT(dedup_key) "
                     "DO UPDATE SET seq = seq + 1 RETURNING seq");
      if (const int code = next.bind(1, event.dedup_key).step(); code != SQLITE_ROW) {
        return failed(code);
      }
      it->second = next.integer(0);
    }
    auto payload = nlohmann::json::parse(event.payload);
    payload["seq"] = it->second;
    event.payload = payload.dump();
    if (const int code = enqueue(event); code != SQLITE_DONE) {
      return failed(code);
    }
  }
  if (const int code = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr); code != SQLITE_OK) {
    return failed(code);
  }
  last_error_.clear();
  return WriteResult::Ok;
}

std::vector<OutboxEvent> AlertDb::due(const std::string& destination, std::int64_t now_ms,
                                      std::size_t limit) {
  Statement statement(
      db_,
      "SELECT id, dedup_key, event_id, action, payload, created_ms, attempts, next_attempt_ms "
      "FROM outbox o WHERE destination = ?1 AND next_attempt_ms <= ?2 AND id = (SELECT MIN(id) "
      "FROM outbox WHERE destination = ?1 AND dedup_key = o.dedup_key) ORDER BY id LIMIT ?3");
  statement.bind(1, destination).bind(2, now_ms).bind(3, static_cast<std::int64_t>(limit));
  std::vector<OutboxEvent> events;
  while (statement.step() == SQLITE_ROW) {
    OutboxEvent event;
    event.id = statement.integer(0);
    event.destination = destination;
    event.dedup_key = statement.text(1);
    event.event_id = statement.text(2);
    event.action = statement.text(3);
    event.payload = statement.text(4);
    event.created_ms = statement.integer(5);
    event.attempts = statement.integer(6);
    event.next_attempt_ms = statement.integer(7);
    if (unremoved_.count(event.id) == 0) {  // its key waits until it is gone
      events.push_back(std::move(event));
    }
  }
  return events;
}

std::optional<std::int64_t> AlertDb::nextDue(const std::string& destination) {
  Statement statement(db_, "SELECT MIN(next_attempt_ms) FROM outbox WHERE destination = ?");
  if (statement.bind(1, destination).step() != SQLITE_ROW || statement.isNull(0)) {
    return std::nullopt;
  }
  return statement.integer(0);
}

void AlertDb::delivered(std::int64_t id) {
  // An acknowledgement lost in a crash only means one duplicate, recognisable by its event_id:
  // it need not wait for an fsync of its own (the next FULL commit makes it durable anyway).
  exec("PRAGMA synchronous=NORMAL");
  Statement statement(db_, "DELETE FROM outbox WHERE id = ?");
  const bool done = statement.bind(1, id).step() == SQLITE_DONE;
  exec("PRAGMA synchronous=FULL");
  if (done) {
    unremoved_.erase(id);
  } else {
    unremoved_.insert(id);
  }
}

void AlertDb::retryRemovals() {
  const std::set<std::int64_t> ids = unremoved_;
  for (const std::int64_t id : ids) {
    delivered(id);
  }
}

void AlertDb::defer(std::int64_t id, std::int64_t next_attempt_ms) {
  Statement statement(db_, "UPDATE outbox SET next_attempt_ms = ? WHERE id = ?");
  statement.bind(1, next_attempt_ms).bind(2, id).step();
}

void AlertDb::attempting(std::int64_t id) {
  // Like an acknowledgement, it survives a kill -9 without an fsync of its own (WAL).
  exec("PRAGMA synchronous=NORMAL");
  Statement statement(db_, "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?");
  statement.bind(1, id).step();
  exec("PRAGMA synchronous=FULL");
}

void AlertDb::deadLetter(std::int64_t id, const std::string& reason) {
  Statement move(db_,
                 "INSERT INTO dead_letter (id, destination, dedup_key, event_id, action, "
                 "payload, reason, at_ms) SELECT id, destination, dedup_key, event_id, action, "
                 "payload, ?, strftime('%s','now') * 1000 FROM outbox WHERE id = ?");
  move.bind(1, reason).bind(2, id).step();
  delivered(id);
}

std::optional<TicketRef> AlertDb::ticket(const std::string& destination, const std::string& key) {
  Statement statement(db_,
                      "SELECT ticket_id, ref, creating FROM itop_ticket WHERE destination = ? "
                      "AND dedup_key = ?");
  if (statement.bind(1, destination).bind(2, key).step() != SQLITE_ROW) {
    return std::nullopt;
  }
  return TicketRef{statement.integer(0), statement.text(1), statement.integer(2) != 0};
}

void AlertDb::saveTicket(const std::string& destination, const std::string& key,
                         const TicketRef& ref) {
  Statement statement(db_,
                      "INSERT OR REPLACE INTO itop_ticket (destination, dedup_key, ticket_id, "
                      "ref, creating) VALUES (?, ?, ?, ?, ?)");
  statement.bind(1, destination)
      .bind(2, key)
      .bind(3, ref.id)
      .bind(4, ref.ref)
      .bind(5, static_cast<std::int64_t>(ref.creating ? 1 : 0))
      .step();
}

void AlertDb::forgetTicket(const std::string& destination, const std::string& key) {
  Statement statement(db_, "DELETE FROM itop_ticket WHERE destination = ? AND dedup_key = ?");
  statement.bind(1, destination).bind(2, key).step();
}

bool AlertDb::buryTicket(const std::string& destination, const std::string& key,
                         const Tombstone& stone, std::int64_t now_ms) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    last_error_ = sqlite3_errmsg(db_);
    return false;
  }
  Statement forget(db_, "DELETE FROM itop_ticket WHERE destination = ? AND dedup_key = ?");
  Statement bury(db_,
                 "INSERT OR REPLACE INTO itop_tombstone (destination, dedup_key, seq, ticket_id, "
                 "until_ms) VALUES (?, ?, ?, ?, ?)");
  // Expired tombstones go with each new one, so the table stays as small as the recent past.
  Statement expire(db_, "DELETE FROM itop_tombstone WHERE until_ms < ?");
  const bool ok = forget.bind(1, destination).bind(2, key).step() == SQLITE_DONE &&
                  bury.bind(1, destination)
                          .bind(2, key)
                          .bind(3, stone.seq)
                          .bind(4, stone.ticket_id)
                          .bind(5, stone.until_ms)
                          .step() == SQLITE_DONE &&
                  expire.bind(1, now_ms).step() == SQLITE_DONE &&
                  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) {
    last_error_ = sqlite3_errmsg(db_);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return ok;
}

std::optional<Tombstone> AlertDb::tombstone(const std::string& destination, const std::string& key,
                                            std::int64_t now_ms) {
  Statement statement(db_,
                      "SELECT seq, ticket_id, until_ms FROM itop_tombstone WHERE destination = ? "
                      "AND dedup_key = ? AND until_ms >= ?");
  if (statement.bind(1, destination).bind(2, key).bind(3, now_ms).step() != SQLITE_ROW) {
    return std::nullopt;
  }
  return Tombstone{statement.integer(0), statement.integer(1), statement.integer(2)};
}

std::int64_t AlertDb::deadLetters() { return scalar("SELECT COUNT(*) FROM dead_letter"); }

std::int64_t AlertDb::pageCount() { return scalar("PRAGMA page_count"); }

std::int64_t AlertDb::depth() { return scalar("SELECT COUNT(*) FROM outbox"); }

std::int64_t AlertDb::bytes() { return scalar("SELECT COALESCE(SUM(bytes), 0) FROM outbox"); }

std::optional<std::int64_t> AlertDb::oldestCreatedMs() {
  if (depth() == 0) {
    return std::nullopt;
  }
  return scalar("SELECT MIN(created_ms) FROM outbox");
}

}  // namespace vigie
