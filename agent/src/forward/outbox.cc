// SPDX-License-Identifier: Apache-2.0
#include "forward/outbox.h"

#include <string_view>

#include "alert/event.h"

namespace vigie {

namespace {

/// The columns readEvent reads, in its order.
constexpr std::string_view kEventColumns =
    "id, destination, dedup_key, event_id, action, payload, created_ms, attempts, "
    "next_attempt_ms";

OutboxEvent readEvent(StateDatabase::Statement& row) {
  OutboxEvent event;
  event.id = row.integer(0);
  event.destination = row.text(1);
  event.dedup_key = row.text(2);
  event.event_id = row.text(3);
  event.action = row.text(4);
  event.payload = row.text(5);
  event.created_ms = row.integer(6);
  event.attempts = row.integer(7);
  event.next_attempt_ms = row.integer(8);
  return event;
}

}  // namespace

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

bool Outbox::evictOne(std::int64_t keep) {
  // Order documented in docs/ALERTING.md: heartbeats, then updates never sent that stand for
  // one transition (a re-assertion, a severity change: told again later), then the oldest
  // event of all. An update that absorbed a resolve and a trigger carries a whole cycle, and
  // triggers and resolves open and close tickets: they go last.
  for (const char* sql :
       {"DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE "
        "action = 'heartbeat' AND id != ?1)",
        "DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE "
        "action = 'update' AND attempts = 0 AND id != ?1 AND "
        "json_array_length(payload, '$.history') <= 1)",
        "DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE id != ?1)"}) {
    auto statement = db_.prepare(sql);
    statement.bind(1, keep).step();
    if (db_.changes() > 0) {
      ++evicted_;
      return true;
    }
  }
  return false;
}

void Outbox::makeRoom(std::int64_t rows, std::int64_t bytes, std::int64_t keep) {
  auto totals = db_.prepare("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM outbox");
  while (true) {
    totals.reset();
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

int Outbox::enqueue(OutboxEvent& event) {
  // Per-key coalescing: an event never attempted can absorb the next one of the same key, so
  // the outbox holds at most two events per key and destination (the one being sent, the rest).
  auto last = db_.prepare(
      "SELECT id, action, payload, attempts FROM outbox WHERE destination = ? AND "
      "dedup_key = ? ORDER BY id DESC LIMIT 1");
  last.bind(1, event.destination).bind(2, event.dedup_key);
  if (last.step() == SQLITE_ROW && last.integer(3) == 0 && unremoved_.count(last.integer(0)) == 0) {
    const std::int64_t id = last.integer(0);
    const auto merged =
        mergeEvents(nlohmann::json::parse(last.text(2)), nlohmann::json::parse(event.payload));
    const std::string payload = merged.dump();
    // Due at once: a hold (an iTop update rate limit) must not delay what it merged with.
    auto update = db_.prepare(
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
  auto insert = db_.prepare(
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

std::vector<OutboxEvent> Outbox::due(const std::string& destination, std::int64_t now_ms,
                                     std::size_t limit) {
  const std::string sql =
      "SELECT " + std::string(kEventColumns) +
      " FROM outbox o WHERE destination = ?1 AND next_attempt_ms <= ?2 AND id = (SELECT MIN(id) "
      "FROM outbox WHERE destination = ?1 AND dedup_key = o.dedup_key) ORDER BY id LIMIT ?3";
  auto statement = db_.prepare(sql.c_str());
  statement.bind(1, destination).bind(2, now_ms).bind(3, static_cast<std::int64_t>(limit));
  std::vector<OutboxEvent> events;
  while (statement.step() == SQLITE_ROW) {
    OutboxEvent event = readEvent(statement);
    if (unremoved_.count(event.id) == 0) {  // its key waits until it is gone
      events.push_back(std::move(event));
    }
  }
  return events;
}

std::optional<OutboxEvent> Outbox::event(std::int64_t id) {
  const std::string sql = "SELECT " + std::string(kEventColumns) + " FROM outbox WHERE id = ?";
  auto statement = db_.prepare(sql.c_str());
  if (statement.bind(1, id).step() != SQLITE_ROW || unremoved_.count(id) != 0) {
    return std::nullopt;
  }
  return readEvent(statement);
}

std::optional<std::int64_t> Outbox::nextDue(const std::string& destination) {
  auto statement = db_.prepare("SELECT MIN(next_attempt_ms) FROM outbox WHERE destination = ?");
  if (statement.bind(1, destination).step() != SQLITE_ROW || statement.isNull(0)) {
    return std::nullopt;
  }
  return statement.integer(0);
}

void Outbox::delivered(std::int64_t id) {
  // An acknowledgement lost in a crash only means one duplicate, recognisable by its event_id:
  // it need not wait for an fsync of its own (the next FULL commit makes it durable anyway).
  db_.exec("PRAGMA synchronous=NORMAL");
  auto statement = db_.prepare("DELETE FROM outbox WHERE id = ?");
  const bool done = statement.bind(1, id).step() == SQLITE_DONE;
  db_.exec("PRAGMA synchronous=FULL");
  if (done) {
    unremoved_.erase(id);
  } else {
    unremoved_.insert(id);
  }
}

void Outbox::retryRemovals() {
  const std::set<std::int64_t> ids = unremoved_;
  for (const std::int64_t id : ids) {
    delivered(id);
  }
}

void Outbox::defer(std::int64_t id, std::int64_t next_attempt_ms) {
  auto statement = db_.prepare("UPDATE outbox SET next_attempt_ms = ? WHERE id = ?");
  statement.bind(1, next_attempt_ms).bind(2, id).step();
}

void Outbox::attempting(std::int64_t id) {
  // Like an acknowledgement, it survives a kill -9 without an fsync of its own (WAL).
  db_.exec("PRAGMA synchronous=NORMAL");
  auto statement = db_.prepare("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?");
  statement.bind(1, id).step();
  db_.exec("PRAGMA synchronous=FULL");
}

void Outbox::deadLetter(std::int64_t id, const std::string& reason) {
  auto move = db_.prepare(
      "INSERT INTO dead_letter (id, destination, dedup_key, event_id, action, "
      "payload, reason, at_ms) SELECT id, destination, dedup_key, event_id, action, "
      "payload, ?, strftime('%s','now') * 1000 FROM outbox WHERE id = ?");
  move.bind(1, reason).bind(2, id).step();
  delivered(id);
}

std::optional<TicketRef> Outbox::ticket(const std::string& destination, const std::string& key) {
  auto statement = db_.prepare(
      "SELECT ticket_id, ref, creating FROM itop_ticket WHERE destination = ? "
      "AND dedup_key = ?");
  if (statement.bind(1, destination).bind(2, key).step() != SQLITE_ROW) {
    return std::nullopt;
  }
  return TicketRef{statement.integer(0), statement.text(1), statement.integer(2) != 0};
}

void Outbox::saveTicket(const std::string& destination, const std::string& key,
                        const TicketRef& ref) {
  auto statement = db_.prepare(
      "INSERT OR REPLACE INTO itop_ticket (destination, dedup_key, ticket_id, "
      "ref, creating) VALUES (?, ?, ?, ?, ?)");
  statement.bind(1, destination)
      .bind(2, key)
      .bind(3, ref.id)
      .bind(4, ref.ref)
      .bind(5, static_cast<std::int64_t>(ref.creating ? 1 : 0))
      .step();
}

void Outbox::forgetTicket(const std::string& destination, const std::string& key) {
  auto statement = db_.prepare("DELETE FROM itop_ticket WHERE destination = ? AND dedup_key = ?");
  statement.bind(1, destination).bind(2, key).step();
}

bool Outbox::buryTicket(const std::string& destination, const std::string& key,
                        const Tombstone& stone, std::int64_t now_ms) {
  if (db_.begin() != SQLITE_OK) {
    return false;
  }
  auto forget = db_.prepare("DELETE FROM itop_ticket WHERE destination = ? AND dedup_key = ?");
  auto bury = db_.prepare(
      "INSERT OR REPLACE INTO itop_tombstone (destination, dedup_key, seq, ticket_id, "
      "until_ms) VALUES (?, ?, ?, ?, ?)");
  // Expired tombstones go with each new one, so the table stays as small as the recent past.
  auto expire = db_.prepare("DELETE FROM itop_tombstone WHERE until_ms < ?");
  int code = forget.bind(1, destination).bind(2, key).step();
  if (code == SQLITE_DONE) {
    code = bury.bind(1, destination)
               .bind(2, key)
               .bind(3, stone.seq)
               .bind(4, stone.ticket_id)
               .bind(5, stone.until_ms)
               .step();
  }
  if (code == SQLITE_DONE) {
    code = expire.bind(1, now_ms).step();
  }
  if (code == SQLITE_DONE) {
    code = db_.commit();
  }
  if (code != SQLITE_OK) {
    db_.rollback(code);
    return false;
  }
  return true;
}

std::optional<Tombstone> Outbox::tombstone(const std::string& destination, const std::string& key,
                                           std::int64_t now_ms) {
  auto statement = db_.prepare(
      "SELECT seq, ticket_id, until_ms FROM itop_tombstone WHERE destination = ? "
      "AND dedup_key = ? AND until_ms >= ?");
  if (statement.bind(1, destination).bind(2, key).bind(3, now_ms).step() != SQLITE_ROW) {
    return std::nullopt;
  }
  return Tombstone{statement.integer(0), statement.integer(1), statement.integer(2)};
}

std::int64_t Outbox::deadLetters() { return db_.scalar("SELECT COUNT(*) FROM dead_letter"); }

std::int64_t Outbox::depth() { return db_.scalar("SELECT COUNT(*) FROM outbox"); }

std::int64_t Outbox::bytes() { return db_.scalar("SELECT COALESCE(SUM(bytes), 0) FROM outbox"); }

std::optional<std::int64_t> Outbox::oldestCreatedMs() {
  if (depth() == 0) {
    return std::nullopt;
  }
  return db_.scalar("SELECT MIN(created_ms) FROM outbox");
}

}  // namespace vigie
