// SPDX-License-Identifier: Apache-2.0
#include "forward/console_db.h"

#include <nlohmann/json.hpp>

#include "util/log.h"

namespace vigie {

namespace {

std::int64_t toMs(WallTime at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

WallTime fromMs(std::int64_t ms) { return WallTime(std::chrono::milliseconds(ms)); }

std::string labelsJson(const Labels& labels) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : labels) {
    object[name] = value;
  }
  return object.dump();
}

Labels parseLabels(const std::string& text) {
  Labels labels;
  const auto object = nlohmann::json::parse(text, nullptr, false);
  if (object.is_object()) {
    for (const auto& [name, value] : object.items()) {
      if (value.is_string()) {
        labels.emplace_back(name, value.get<std::string>());
      }
    }
  }
  return labels;
}

}  // namespace

bool ConsoleDb::write(StateDatabase::Statement& statement, const char* what) {
  const int code = statement.step();
  if (code != SQLITE_DONE) {
    logError(std::string("console: cannot record ") + what + " in " + db_.path() + ": " +
             sqlite3_errstr(code) + "; it holds until the agent restarts");
    return false;
  }
  return true;
}

bool ConsoleDb::saveAcknowledgement(const std::string& probe, const Acknowledgement& ack) {
  auto statement = db_.prepare(
      "INSERT OR REPLACE INTO acknowledgement (probe, author, comment, at_ms) VALUES (?, ?, ?, ?)");
  statement.bind(1, probe).bind(2, ack.author).bind(3, ack.comment).bind(4, toMs(ack.at));
  return write(statement, "an acknowledgement");
}

bool ConsoleDb::forgetAcknowledgement(const std::string& probe) {
  auto statement = db_.prepare("DELETE FROM acknowledgement WHERE probe = ?");
  statement.bind(1, probe);
  return write(statement, "the end of an acknowledgement");
}

std::map<std::string, Acknowledgement> ConsoleDb::acknowledgements() {
  std::map<std::string, Acknowledgement> acks;
  auto statement = db_.prepare("SELECT probe, author, comment, at_ms FROM acknowledgement");
  while (statement.step() == SQLITE_ROW) {
    acks[statement.text(0)] =
        Acknowledgement{statement.text(1), statement.text(2), fromMs(statement.integer(3))};
  }
  return acks;
}

bool ConsoleDb::saveSilence(const Silence& silence) {
  auto statement = db_.prepare(
      "INSERT OR REPLACE INTO silence (id, probe, labels, starts_ms, ends_ms, author, comment, "
      "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  statement.bind(1, silence.id)
      .bind(2, silence.probe)
      .bind(3, labelsJson(silence.labels))
      .bind(4, toMs(silence.starts_at))
      .bind(5, toMs(silence.ends_at))
      .bind(6, silence.author)
      .bind(7, silence.comment)
      .bind(8, toMs(silence.created_at));
  return write(statement, "a silence");
}

bool ConsoleDb::forgetSilence(const std::string& id) {
  auto statement = db_.prepare("DELETE FROM silence WHERE id = ?");
  statement.bind(1, id);
  return write(statement, "the end of a silence");
}

std::vector<Silence> ConsoleDb::silences() {
  std::vector<Silence> silences;
  auto statement = db_.prepare(
      "SELECT id, probe, labels, starts_ms, ends_ms, author, comment, created_ms FROM silence "
      "ORDER BY created_ms, id");
  while (statement.step() == SQLITE_ROW) {
    Silence silence;
    silence.id = statement.text(0);
    silence.probe = statement.text(1);
    silence.labels = parseLabels(statement.text(2));
    silence.starts_at = fromMs(statement.integer(3));
    silence.ends_at = fromMs(statement.integer(4));
    silence.author = statement.text(5);
    silence.comment = statement.text(6);
    silence.created_at = fromMs(statement.integer(7));
    silences.push_back(std::move(silence));
  }
  return silences;
}

bool ConsoleDb::audit(const AuditEntry& entry) {
  auto statement = db_.prepare(
      "INSERT INTO audit (at_ms, author, via, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)");
  statement.bind(1, toMs(entry.at))
      .bind(2, entry.author)
      .bind(3, entry.via)
      .bind(4, entry.action)
      .bind(5, entry.target)
      .bind(6, entry.detail);
  if (!write(statement, "an audit line")) {
    return false;
  }
  auto trim = db_.prepare("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?");
  trim.bind(1, kAuditKept);
  return write(trim, "the audit trail's bound");
}

std::vector<AuditEntry> ConsoleDb::auditTrail(std::int64_t limit) {
  std::vector<AuditEntry> entries;
  auto statement = db_.prepare(
      "SELECT at_ms, author, via, action, target, detail FROM audit ORDER BY id DESC LIMIT ?");
  statement.bind(1, limit);
  while (statement.step() == SQLITE_ROW) {
    entries.push_back({fromMs(statement.integer(0)), statement.text(1), statement.text(2),
                       statement.text(3), statement.text(4), statement.text(5)});
  }
  return entries;
}

std::vector<OutboxSummary> ConsoleDb::outbox() {
  std::map<std::string, OutboxSummary> by_destination;
  auto pending =
      db_.prepare("SELECT destination, COUNT(*), MIN(created_ms) FROM outbox GROUP BY destination");
  while (pending.step() == SQLITE_ROW) {
    OutboxSummary& summary = by_destination[pending.text(0)];
    summary.pending = pending.integer(1);
    summary.oldest_pending_ms = pending.integer(2);
  }
  auto dead = db_.prepare("SELECT destination, COUNT(*) FROM dead_letter GROUP BY destination");
  while (dead.step() == SQLITE_ROW) {
    by_destination[dead.text(0)].dead_letters = dead.integer(1);
  }
  std::vector<OutboxSummary> summaries;
  for (auto& [name, summary] : by_destination) {
    summary.destination = name;
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

std::vector<DeadLetter> ConsoleDb::deadLetters(const std::string& destination) {
  std::vector<DeadLetter> letters;
  auto statement = db_.prepare(
      "SELECT id, dedup_key, payload, action, at_ms, reason FROM dead_letter "
      "WHERE destination = ? ORDER BY id DESC LIMIT 1000");
  statement.bind(1, destination);
  while (statement.step() == SQLITE_ROW) {
    const auto payload = nlohmann::json::parse(statement.text(2), nullptr, false);
    std::string probe;
    if (payload.is_object() && payload.contains("check") && payload["check"].is_object()) {
      probe = payload["check"].value("name", "");
    }
    letters.push_back({statement.integer(0), statement.text(1), std::move(probe), statement.text(3),
                       statement.integer(4), statement.text(5)});
  }
  return letters;
}

bool ConsoleDb::replay(const std::string& destination, std::int64_t id, std::int64_t now_ms) {
  if (db_.begin() != SQLITE_OK) {
    return false;
  }
  auto move = db_.prepare(
      "INSERT INTO outbox (destination, dedup_key, event_id, action, payload, created_ms, "
      "next_attempt_ms, bytes) SELECT destination, dedup_key, event_id, action, payload, ?, 0, "
      "length(CAST(payload AS BLOB)) FROM dead_letter WHERE destination = ? AND id = ?");
  move.bind(1, now_ms).bind(2, destination).bind(3, id);
  int code = move.step();
  const bool found = code == SQLITE_DONE && db_.changes() == 1;
  if (found) {
    auto remove = db_.prepare("DELETE FROM dead_letter WHERE destination = ? AND id = ?");
    remove.bind(1, destination).bind(2, id);
    code = remove.step();
  }
  if (code != SQLITE_DONE || !found) {
    db_.rollback(code == SQLITE_DONE ? SQLITE_OK : code);
    return false;
  }
  return db_.commit() == SQLITE_OK;
}

}  // namespace vigie
