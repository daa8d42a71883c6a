// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <sqlite3.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

namespace vigie {

/// The schema version this agent writes (PRAGMA user_version). Version 1 is the schema of the
/// releases that did not record a version yet; docs/OPERATIONS.md tells how to upgrade and roll
/// back.
inline constexpr std::int64_t kStateSchemaVersion = 3;

/// The file was written by a newer agent: opening it could lose or corrupt what it holds, so the
/// agent refuses to start rather than fall back to memory.
class NewerSchemaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where the state database lives (docs/OPERATIONS.md, "State database health").
enum class StateHealth {
  File,      ///< a writable file at its path: healthy
  ReadOnly,  ///< the file could only be read: what it held is used, in memory from then on
  Memory,    ///< no file could be opened (or recreated): in memory only, lost at restart
  Replaced,  ///< another file took its path while running: the agent keeps writing its own
};

/// The agent's one SQLite file under state_dir: owns the connection, brings the schema to
/// kStateSchemaVersion when opened, and runs the transactions the stores on it share (an alert
/// state and the events it produced are committed together). WAL journal with synchronous=FULL:
/// a commit is fsync'd before it returns.
class StateDatabase {
 public:
  /// A prepared statement; finalized when it goes out of scope.
  class Statement {
   public:
    Statement(sqlite3* db, const char* sql);
    ~Statement() { sqlite3_finalize(statement_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, const std::string& text);
    Statement& bind(int index, std::int64_t value);
    /// SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return sqlite3_step(statement_); }
    void reset() { sqlite3_reset(statement_); }
    std::int64_t integer(int column) { return sqlite3_column_int64(statement_, column); }
    std::string text(int column);
    bool isNull(int column) { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

   private:
    sqlite3_stmt* statement_ = nullptr;
  };

  /// Opens or creates the file and migrates it. A corrupt file is moved aside (renamed with a
  /// timestamp, logged) and a new one created; a read-only file is read into memory; a file
  /// that cannot be opened leaves an empty database in memory: the agent runs on, health()
  /// says so. Throws NewerSchemaError for a file of a newer agent, std::runtime_error when not
  /// even memory works.
  explicit StateDatabase(const std::string& path);
  ~StateDatabase();
  StateDatabase(const StateDatabase&) = delete;
  StateDatabase& operator=(const StateDatabase&) = delete;

  Statement prepare(const char* sql) { return Statement(db_, sql); }
  /// Throws std::runtime_error: for statements that cannot fail but by a bug.
  void exec(const char* sql);
  std::int64_t scalar(const char* sql);
  /// Rows changed by the last statement.
  int changes() { return sqlite3_changes(db_); }

  /// BEGIN IMMEDIATE, COMMIT: SQLITE_OK or the failing code, whose message lastError() keeps.
  int begin();
  int commit();
  /// Rolls back after `code` failed a write, keeping that failure's message for lastError().
  void rollback(int code);

  const std::string& path() const { return path_; }
  /// SQLite's message for the last failed write, for logs.
  std::string lastError() const;

  StateHealth health() const { return health_; }
  /// Problems met since start, by kind: corrupt, readonly, unopenable, deleted, replaced.
  const std::map<std::string, std::int64_t>& problems() const { return problems_; }
  /// Notices a file deleted or replaced while the agent runs (its inode is no longer the one
  /// opened): a deleted file is recreated from the open connection, nothing lost. Cheap (one
  /// stat): called before each commit and periodically.
  void checkFile();

  std::int64_t schemaVersion() { return scalar("PRAGMA user_version"); }
  std::int64_t pageCount() { return scalar("PRAGMA page_count"); }
  /// Limits the file to `pages` pages (tests use it to simulate a full disk).
  void setMaxPageCount(std::int64_t pages);

 private:
  /// Opens path_ read-write, brings it to the schema; throws FileProblem (or
  /// NewerSchemaError) with the connection closed.
  void openFile();
  /// Opens the file read-only and copies it into memory; false if it cannot be read.
  bool readIntoMemory();
  void openMemory();
  /// Renames the corrupt file (and its WAL) aside: the new name, or empty on failure.
  std::string moveAside();
  void recreate();
  void closeConnection();
  void migrate();
  void remember(int code);
  void problem(const std::string& kind) { ++problems_[kind]; }

  sqlite3* db_ = nullptr;
  std::string path_;
  StateHealth health_ = StateHealth::File;
  std::map<std::string, std::int64_t> problems_;
  dev_t device_ = 0;  ///< of the file opened, to notice it deleted or replaced
  ino_t inode_ = 0;
  std::string last_error_;  ///< of the last failed write
};

}  // namespace vigie
