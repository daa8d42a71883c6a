// SPDX-License-Identifier: Apache-2.0
#include "forward/state_database.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

#include "util/log.h"

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

namespace {

enum class Problem { Corrupt, ReadOnly, Unopenable };

/// Why the file at the path cannot be used as it is, with SQLite's words.
struct FileProblem : std::runtime_error {
  FileProblem(Problem problem, const std::string& what) : std::runtime_error(what), kind(problem) {}
  Problem kind;
};

bool corruptCode(int code) {
  return (code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB;
}

/// `sql` on `db`: SQLITE_OK or the failing code, its message in `error`.
int attempt(sqlite3* db, const char* sql, std::string& error) {
  char* message = nullptr;
  const int code = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (code != SQLITE_OK) {
    error = message != nullptr ? message : sqlite3_errstr(code);
  }
  sqlite3_free(message);
  return code;
}

/// A path as an SQLite URI filename (RFC 3986 escapes for what a URI would misread).
std::string uri(const std::string& path, const char* query) {
  std::string text = "file:";
  for (const char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      static constexpr char kHex[] = "0123456789ABCDEF";
      text += '%';
      text += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      text += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      text += c;
    }
  }
  return text + "?" + query;
}

/// Copies every page of `from` into `to`: SQLITE_DONE or the failing code.
int copyDatabase(sqlite3* from, sqlite3* to) {
  sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
  if (backup == nullptr) {
    return sqlite3_errcode(to);
  }
  const int code = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  return code;
}

std::string utcStamp() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &parts);
  return text;
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace

StateDatabase::StateDatabase(const std::string& path) : path_(path) {
  if (path == ":memory:") {
    openMemory();
    return;
  }
  try {
    openFile();
    return;
  } catch (const FileProblem& first) {
    if (first.kind == Problem::Corrupt) {
      problem("corrupt");
      const std::string aside = moveAside();
      if (!aside.empty()) {
        logError("state database " + path_ + " is corrupt (" + first.what() + "): moved aside to " +
                 aside +
                 " (its -wal too), starting with a new one; alert states and undelivered "
                 "events it held are lost, receivers get the current state again");
        try {
          openFile();
          return;
        } catch (const FileProblem& again) {
          problem("unopenable");
          logError("state database " + path_ + " cannot be created: " + again.what() +
                   "; alert states and the outbox kept in memory only, lost at restart");
          openMemory();
          health_ = StateHealth::Memory;
          return;
        }
      }
      logError("state database " + path_ + " is corrupt (" + first.what() +
               ") and cannot be moved aside; alert states and the outbox kept in memory only");
    } else if (first.kind == Problem::ReadOnly) {
      problem("readonly");
      if (readIntoMemory()) {
        logError("state database " + path_ + " is read-only (" + first.what() + "): its " +
                 std::to_string(scalar("SELECT COUNT(*) FROM alert_state")) +
                 " alert state(s) and " + std::to_string(scalar("SELECT COUNT(*) FROM outbox")) +
                 " undelivered event(s) were read; from now on they live in memory only, lost "
                 "at restart, until the file is writable again and the agent restarted");
        health_ = StateHealth::ReadOnly;
        return;
      }
      logError("state database " + path_ + " is read-only and cannot be read either (" +
               first.what() + "); alert states and the outbox kept in memory only");
    } else {
      problem("unopenable");
      logError("state database " + path_ + " cannot be opened: " + first.what() +
               "; alert states and the outbox kept in memory only, lost at restart");
    }
  }
  openMemory();
  health_ = StateHealth::Memory;
}

StateDatabase::~StateDatabase() { closeConnection(); }

void StateDatabase::closeConnection() {
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

void StateDatabase::openFile() {
  const int opened =
      sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  auto fail = [this](Problem kind, const std::string& what) {
    closeConnection();
    throw FileProblem(kind, what);
  };
  if (opened != SQLITE_OK) {
    const std::string error = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    const bool read_only = (opened & 0xff) == SQLITE_READONLY;
    fail(read_only ? Problem::ReadOnly : Problem::Unopenable, error);
  }
  std::string error;
  // A file SQLite could open for reading only (permissions, read-only mount).
  if (sqlite3_db_readonly(db_, "main") == 1) {
    fail(Problem::ReadOnly, "attempt to write a readonly database");
  }
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (const int code = attempt(db_, sql, error); code != SQLITE_OK) {
      fail(corruptCode(code)                  ? Problem::Corrupt
           : (code & 0xff) == SQLITE_READONLY ? Problem::ReadOnly
                                              : Problem::Unopenable,
           error);
    }
  }
  // A damaged page would otherwise fail one write in the middle of a run, much later.
  {
    Statement check(db_, "PRAGMA quick_check(1)");
    const int code = check.step();
    if (code == SQLITE_ROW && check.text(0) != "ok") {
      const std::string finding = check.text(0);
      check.reset();
      fail(Problem::Corrupt, finding);
    }
    if (code != SQLITE_ROW) {
      const std::string message = sqlite3_errmsg(db_);
      check.reset();
      fail(corruptCode(code) ? Problem::Corrupt : Problem::Unopenable, message);
    }
  }
  try {
    migrate();
  } catch (const NewerSchemaError&) {
    closeConnection();
    throw;
  } catch (const std::exception& e) {
    fail(Problem::Unopenable, e.what());
  }
  struct stat info {};
  if (::stat(path_.c_str(), &info) == 0) {
    device_ = info.st_dev;
    inode_ = info.st_ino;
  }
  health_ = StateHealth::File;
}

bool StateDatabase::readIntoMemory() {
  // mode=ro reads the WAL too when its -shm can be used; immutable=1 reads the file alone (a
  // cleanly stopped agent leaves no WAL) where the folder cannot even hold a -shm.
  for (const char* query : {"mode=ro", "immutable=1"}) {
    sqlite3* file = nullptr;
    if (sqlite3_open_v2(uri(path_, query).c_str(), &file, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                        nullptr) == SQLITE_OK) {
      std::string error;
      const bool copied = attempt(file, "SELECT COUNT(*) FROM sqlite_master", error) == SQLITE_OK &&
                          sqlite3_open(":memory:", &db_) == SQLITE_OK &&
                          copyDatabase(file, db_) == SQLITE_DONE;
      sqlite3_close(file);
      if (copied) {
        try {
          migrate();
          return true;
        } catch (const NewerSchemaError&) {
          closeConnection();
          throw;
        } catch (const std::exception&) {
        }
      }
      closeConnection();
      continue;
    }
    sqlite3_close(file);
  }
  return false;
}

void StateDatabase::openMemory() {
  if (sqlite3_open(":memory:", &db_) != SQLITE_OK) {
    closeConnection();
    throw std::runtime_error("cannot open an in-memory database");
  }
  migrate();
}

std::string StateDatabase::moveAside() {
  const std::string aside = path_ + ".corrupt-" + utcStamp();
  if (std::rename(path_.c_str(), aside.c_str()) != 0) {
    return {};
  }
  if (exists(path_ + "-wal")) {
    std::rename((path_ + "-wal").c_str(), (aside + "-wal").c_str());
  }
  std::remove((path_ + "-shm").c_str());
  return aside;
}

void StateDatabase::checkFile() {
  if (health_ != StateHealth::File) {
    return;
  }
  struct stat info {};
  if (::stat(path_.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      recreate();
    }
    return;
  }
  if (info.st_dev != device_ || info.st_ino != inode_) {
    problem("replaced");
    health_ = StateHealth::Replaced;
    logError("state database " + path_ +
             " was replaced by another file while the agent runs: the agent keeps writing the "
             "file it opened (no longer reachable by that name, lost at restart); stop the "
             "agent before restoring a backup (docs/OPERATIONS.md)");
  }
}

void StateDatabase::recreate() {
  problem("deleted");
  // The open connection still reads the deleted file: its pages are copied to a new file,
  // which takes the path once the old connection has let go of the old -wal.
  const std::string fresh = path_ + ".recreating";
  std::remove(fresh.c_str());
  sqlite3* copy = nullptr;
  int code =
      sqlite3_open_v2(fresh.c_str(), &copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (code == SQLITE_OK) {
    code = copyDatabase(db_, copy) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(copy);
  }
  const std::string error = copy != nullptr ? sqlite3_errmsg(copy) : "out of memory";
  sqlite3_close(copy);
  if (code != SQLITE_OK) {
    std::remove(fresh.c_str());
    health_ = StateHealth::Memory;
    logError("state database " + path_ +
             " was deleted while the agent runs and cannot be "
             "recreated (" +
             error +
             "): alert states and the outbox go on in the deleted file, "
             "lost at restart");
    return;
  }
  const std::int64_t states = scalar("SELECT COUNT(*) FROM alert_state");
  const std::int64_t events = scalar("SELECT COUNT(*) FROM outbox");
  closeConnection();
  std::remove((path_ + "-wal").c_str());  // the deleted file's, closed with it
  std::remove((path_ + "-shm").c_str());
  std::rename(fresh.c_str(), path_.c_str());
  try {
    openFile();
  } catch (const std::exception& e) {
    logError("state database " + path_ +
             " was deleted while the agent runs and cannot be "
             "opened again (" +
             e.what() + "): alert states and the outbox kept in memory only");
    openMemory();
    health_ = StateHealth::Memory;
    return;
  }
  logError("state database " + path_ +
           " was deleted while the agent runs: recreated from the "
           "open copy, " +
           std::to_string(states) + " alert state(s) and " + std::to_string(events) +
           " undelivered event(s) kept");
}

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
