// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <libpq-fe.h>
#include <mysql.h>

#include <optional>
#include <string>

#include "db_env.h"
#include "test_config.h"

/// The SQL engines the db suite runs its shared tests against (sql_engines_test.cc), each
/// against its real server started by tests/db/db_servers.sh, and the helpers their own files use.
namespace vigie::test {

inline std::optional<double> sample(const RunOutcome& outcome, const std::string& name,
                                    const Labels& labels = {}) {
  for (const Sample& s : outcome.result.samples) {
    if (s.name() == name && s.labels == labels) {
      return s.value;
    }
  }
  return std::nullopt;
}

inline std::string quoted(const std::string& text) { return "\"" + text + "\""; }

struct Postgres {
  static constexpr const char* kType = "postgres";
  /// The column name the server gives `SELECT 1`.
  static constexpr const char* kDefaultColumn = "?column?";
  /// libpq says "Connection refused" when nothing listens.
  static constexpr bool kRefusalSaysRefused = true;
  static constexpr const char* kThreeRows = "SELECT generate_series(1, 3) AS n";
  static constexpr const char* kConnectionId = "SELECT pg_backend_pid()";
  static constexpr const char* kConnectionIdColumn = "pg_backend_pid";

  /// A probe block for the test server; `extra` adds or overrides keys.
  static std::string block(const std::string& extra, const std::string& password = "") {
    return "{ host: \"127.0.0.1\", port: " + dbEnv("PG_PORT") + ", user: " + dbEnv("DB_USER") +
           ", dbname: " + dbEnv("DB_NAME") +
           ", password: " + quoted(password.empty() ? dbEnv("DB_PASSWORD") : password) +
           (extra.empty() ? "" : ", " + extra) + " }";
  }
  static std::string sleep(const std::string& seconds) {
    return "SELECT pg_sleep(" + seconds + ")";
  }

  /// Runs SQL as the superuser over the server's Unix socket; returns the first value.
  static std::string admin(const std::string& sql) {
    const std::string conninfo = "host=" + dbEnv("PG_SOCKET_DIR") + " port=" + dbEnv("PG_PORT") +
                                 " user=" + dbEnv("PG_ADMIN_USER") + " dbname=postgres";
    PGconn* conn = PQconnectdb(conninfo.c_str());
    std::string value;
    if (PQstatus(conn) == CONNECTION_OK) {
      PGresult* result = PQexec(conn, sql.c_str());
      if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0) {
        value = PQgetvalue(result, 0, 0);
      }
      PQclear(result);
    }
    PQfinish(conn);
    return value;
  }
  /// Ends the session running `sleep(seconds)`; false when there is none (yet).
  static bool killSleeping(const std::string& seconds) {
    return admin(
               "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE "
               "'%pg_sleep(" +
               seconds + ")%' AND pid <> pg_backend_pid()") == "1";
  }
  static void killConnection(long id) {
    admin("SELECT pg_terminate_backend(" + std::to_string(id) + ")");
  }
};

struct Mysql {
  static constexpr const char* kType = "mysql";
  static constexpr const char* kDefaultColumn = "1";
  /// MariaDB says "Can't connect to server on '127.0.0.1' (111)".
  static constexpr bool kRefusalSaysRefused = false;
  static constexpr const char* kThreeRows = "SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3";
  static constexpr const char* kConnectionId = "SELECT CONNECTION_ID() AS id";
  static constexpr const char* kConnectionIdColumn = "id";

  static std::string block(const std::string& extra, const std::string& password = "",
                           const std::string& host = "127.0.0.1") {
    return "{ host: " + quoted(host) + ", port: " + dbEnv("MYSQL_PORT") +
           ", user: " + dbEnv("DB_USER") + ", dbname: " + dbEnv("DB_NAME") +
           ", password: " + quoted(password.empty() ? dbEnv("DB_PASSWORD") : password) +
           (extra.empty() ? "" : ", " + extra) + " }";
  }
  static std::string sleep(const std::string& seconds) { return "SELECT SLEEP(" + seconds + ")"; }

  /// Runs SQL as the admin account over the server's Unix socket (blocking client); returns the
  /// first value.
  static std::string admin(const std::string& sql) {
    MYSQL* mysql = mysql_init(nullptr);
    std::string value;
    if (mysql_real_connect(mysql, "localhost", dbEnv("MYSQL_ADMIN_USER").c_str(), nullptr, nullptr,
                           0, dbEnv("MYSQL_SOCKET").c_str(), 0) != nullptr &&
        mysql_query(mysql, sql.c_str()) == 0) {
      if (MYSQL_RES* result = mysql_store_result(mysql)) {
        if (MYSQL_ROW row = mysql_fetch_row(result); row && row[0]) {
          value = row[0];
        }
        mysql_free_result(result);
      }
    }
    mysql_close(mysql);
    return value;
  }
  static bool killSleeping(const std::string& seconds) {
    const std::string id =
        admin("SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(" +
              seconds + ")%'");
    if (id.empty()) {
      return false;
    }
    admin("KILL " + id);
    return true;
  }
  static void killConnection(long id) { admin("KILL " + std::to_string(id)); }
};

template <typename Engine>
ProbeSpec engineSpec(const std::string& block, const std::string& timeout = "5s") {
  const std::string type = Engine::kType;
  return probeFromYaml("probes:\n  - name: db\n    type: " + type + "\n    timeout: " + timeout +
                       "\n    " + type + ": " + block + "\n");
}

}  // namespace vigie::test
