// SPDX-License-Identifier: Apache-2.0
#include "forward/state_database.h"

namespace vigie {

StateDatabase::Statement::Statement(sqlite3* db, const char* sql) {
  if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
  }
}

StateDatabase::Statement& StateDatabase::Statement::bind(int index, const std::string& text) {
  sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

StateDatabase::Statement& StateDatabase::Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}

std::string StateDatabase::Statement::text(int column) {
  const auto* data = sqlite3_column_text(statement_, column);
  return data == nullptr
             ? std::string()
             : std::string(reinterpret_cast<const char*>(data),
                           static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

StateDatabase::StateDatabase(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string error = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + path + ": " + error);
  }
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

StateDatabase::~StateDatabase() { sqlite3_close(db_); }

namespace {

/// Version 1, the schema of the releases before versioning (user_version 0). IF NOT EXISTS: the
/// same statements create a new file and complete an old one.
constexpr const char* kVersion1[] = {
    "CREATE TABLE IF NOT EXISTS alert_state (probe TEXT PRIMARY KEY, state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS key_seq (dedup_key TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "destination TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL, "
    "action TEXT NOT NULL, payload TEXT NOT NULL, created_ms INTEGER NOT NULL, "
    "attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL DEFAULT 0, "
    "bytes INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS outbox_key ON outbox (destination, dedup_key, id)",
    "CREATE TABLE IF NOT EXISTS itop_ticket (destination TEXT NOT NULL, dedup_key TEXT NOT "
    "NULL, ticket_id INTEGER NOT NULL, ref TEXT NOT NULL, creating INTEGER NOT NULL, "
    "PRIMARY KEY (destination, dedup_key))",
    "CREATE TABLE IF NOT EXISTS itop_tombstone (destination TEXT NOT NULL, dedup_key TEXT "
    "NOT NULL, seq INTEGER NOT NULL, ticket_id INTEGER NOT NULL, until_ms INTEGER NOT NULL, "
    "PRIMARY KEY (destination, dedup_key))",
    "CREATE TABLE IF NOT EXISTS dead_letter (id INTEGER PRIMARY KEY, destination TEXT, "
    "dedup_key TEXT, event_id TEXT, action TEXT, payload TEXT, reason TEXT, at_ms INTEGER)",
};

}  // namespace

void StateDatabase::migrate() {
  const std::int64_t version = schemaVersion();
  if (version > kStateSchemaVersion) {
    throw NewerSchemaError(path_ + " has schema version " + std::to_string(version) +
                           "; this vigie-agent knows versions up to " +
                           std::to_string(kStateSchemaVersion) +
                           ": run the newer agent again, or restore the backup taken before the "
                           "upgrade (docs/OPERATIONS.md)");
  }
  if (version == kStateSchemaVersion) {
    return;
  }
  // All steps or none: a crash mid-way leaves the old version, migrated again at the next start.
  exec("BEGIN IMMEDIATE");
  try {
    if (version == 0) {
      for (const char* sql : kVersion1) {
        exec(sql);
      }
      if (scalar("SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'bytes'") == 0) {
        // An outbox written before spool_max_bytes existed.
        exec("ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0");
        exec("UPDATE outbox SET bytes = length(CAST(payload AS BLOB))");
      }
      // Covers the size sum, so bounding by bytes does not read every payload.
      exec("CREATE INDEX IF NOT EXISTS outbox_bytes ON outbox (bytes)");
    }
    // 1 → 2: due() reads a destination's due rows only, not every event held back (iTop
    // updates waiting for update_interval, retries in backoff).
    if (version <= 1) {
      exec("CREATE INDEX outbox_due ON outbox (destination, next_attempt_ms)");
    }
    // 2 → 3: the operator console's acknowledgements, silences and audit trail (docs/API.md).
    if (version <= 2) {
      exec(
          "CREATE TABLE acknowledgement (probe TEXT PRIMARY KEY, author TEXT NOT NULL, "
          "comment TEXT NOT NULL, at_ms INTEGER NOT NULL)");
      exec(
          "CREATE TABLE silence (id TEXT PRIMARY KEY, probe TEXT NOT NULL, labels TEXT NOT "
          "NULL, starts_ms INTEGER NOT NULL, ends_ms INTEGER NOT NULL, author TEXT NOT NULL, "
          "comment TEXT NOT NULL, created_ms INTEGER NOT NULL)");
      exec(
          "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, "
          "author TEXT NOT NULL, via TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, "
          "detail TEXT NOT NULL)");
    }
    exec(("PRAGMA user_version=" + std::to_string(kStateSchemaVersion)).c_str());
    exec("COMMIT");
  } catch (const std::exception& e) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw std::runtime_error("cannot migrate " + path_ + " from schema version " +
                             std::to_string(version) + ": " + e.what());
  }
}

void StateDatabase::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error(std::string("sqlite: ") + message);
  }
}

std::int64_t StateDatabase::scalar(const char* sql) {
  Statement statement(db_, sql);
  return statement.step() == SQLITE_ROW ? statement.integer(0) : 0;
}

void StateDatabase::remember(int code) {
  // `code` is what the failed call returned: a finalized statement no longer leaves it in the
  // connection, and ROLLBACK would replace the message.
  last_error_ = sqlite3_extended_errcode(db_) == code ? sqlite3_errmsg(db_) : sqlite3_errstr(code);
}

int StateDatabase::begin() {
  const int code = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (code != SQLITE_OK) {
    remember(code);
  }
  return code;
}

int StateDatabase::commit() {
  const int code = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (code == SQLITE_OK) {
    last_error_.clear();
  }
  return code;
}

void StateDatabase::rollback(int code) {
  remember(code);
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

std::string StateDatabase::lastError() const {
  return last_error_.empty() ? sqlite3_errmsg(db_) : last_error_;
}

void StateDatabase::setMaxPageCount(std::int64_t pages) {
  exec(("PRAGMA max_page_count=" + std::to_string(pages)).c_str());
}

}  // namespace vigie
