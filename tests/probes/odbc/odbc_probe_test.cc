// SPDX-License-Identifier: Apache-2.0
// The odbc probe through Debian's PostgreSQL and MariaDB ODBC drivers, against the real servers
// started by tests/db/db_servers.sh (the path DB2 takes in production, with IBM's driver).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <vector>

#include "db_env.h"
#include "test_certs.h"
#include "test_config.h"
#include "test_server.h"

namespace vigie {
namespace {

namespace fs = std::filesystem;
using test::dbEnv;

std::optional<double> sample(const RunOutcome& outcome, const std::string& name,
                             const Labels& labels = {}) {
  for (const Sample& s : outcome.result.samples) {
    if (s.name() == name && s.labels == labels) {
      return s.value;
    }
  }
  return std::nullopt;
}

std::string driver(const std::string& file) {
  for (const auto& arch : fs::directory_iterator("/usr/lib")) {
    const fs::path candidate = arch.path() / "odbc" / file;
    if (fs::exists(candidate)) {
      return candidate.string();
    }
  }
  throw std::runtime_error(file + " not found: install odbc-postgresql and odbc-mariadb");
}

std::string postgresString(const std::string& port) {
  return "Driver=" + driver("psqlodbcw.so") + ";Server=127.0.0.1;Port=" + port +
         ";Database=vigie;SSLmode=disable";
}

std::string mariadbString(const std::string& port) {
  return "Driver=" + driver("libmaodbc.so") + ";Server=127.0.0.1;Port=" + port + ";Database=vigie";
}

ProbeSpec spec(const std::string& odbc_block, const std::string& timeout = "5s") {
  return test::probeFromYaml("probes:\n  - name: db2\n    type: odbc\n    timeout: " + timeout +
                             "\n    odbc: " + odbc_block + "\n");
}

std::string block(const std::string& connection_string, const std::string& extra,
                  const std::string& password = "") {
  return "{ connection_string: \"" + connection_string + "\", user: vigie, password: \"" +
         (password.empty() ? dbEnv("DB_PASSWORD") : password) + "\"" +
         (extra.empty() ? "" : ", " + extra) + " }";
}

RunOutcome onPostgres(const std::string& extra, const std::string& timeout = "5s") {
  return test::runSpec(spec(block(postgresString(dbEnv("PG_PORT")), extra), timeout));
}

TEST(OdbcProbe, PostgresDriverAnswersTheDefaultQuery) {
  const RunOutcome outcome = onPostgres("");
  ASSERT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_GT(sample(outcome, "vigie_db_connect_duration_seconds").value_or(0), 0);
  EXPECT_GT(sample(outcome, "vigie_db_query_duration_seconds").value_or(0), 0);
  EXPECT_EQ(sample(outcome, "vigie_db_rows_returned"), 1);
}

TEST(OdbcProbe, MariadbDriverAnswersAndChecksValues) {
  const RunOutcome outcome = test::runSpec(
      spec(block(mariadbString(dbEnv("MYSQL_PORT")),
                 "query: \"SELECT 'db1' AS node, 75 AS lag UNION ALL SELECT 'db2', 5\", "
                 "expect_rows: 2, expect_column: lag, warning: \"60\", critical: \"90\"")));
  EXPECT_EQ(outcome.result.status, Status::Warning) << outcome.result.message;
  EXPECT_EQ(outcome.result.reason, "expectation");
  EXPECT_EQ(sample(outcome, "vigie_db_query_value", {{"column", "lag"}}), 75);
  EXPECT_EQ(sample(outcome, "vigie_db_rows_returned"), 2);
}

TEST(OdbcProbe, DataSourceNameFromOdbcIni) {
  const std::string dir = test::makeTempDir();
  std::ofstream(dir + "/odbc.ini") << "[vigie-test]\nDriver = " << driver("psqlodbcw.so")
                                   << "\nServername = 127.0.0.1\nPort = " << dbEnv("PG_PORT")
                                   << "\nDatabase = vigie\nSSLmode = disable\n";
  setenv("ODBCINI", (dir + "/odbc.ini").c_str(), 1);
  const RunOutcome outcome = test::runSpec(
      spec("{ dsn: vigie-test, user: vigie, password: \"" + dbEnv("DB_PASSWORD") + "\" }"));
  unsetenv("ODBCINI");
  fs::remove_all(dir);
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

/// A dsn probe with unixODBC reading only a test odbc.ini (ODBCINI) and an empty system folder
/// (ODBCSYSINI), so no data source of the host answers in its place. One file for the process:
/// unixODBC caches what it read.
RunOutcome withTestOdbcIni(const std::string& dsn) {
  static const std::string dir = [] {
    const std::string made = test::makeTempDir();
    std::ofstream(made + "/odbc.ini")
        << "[db2-prod]\nDriver = /opt/ibm/nowhere/libdb2o.so\nDatabase = APP\n";
    std::ofstream(made + "/odbcinst.ini") << "";
    return made;
  }();
  setenv("ODBCINI", (dir + "/odbc.ini").c_str(), 1);
  setenv("ODBCSYSINI", dir.c_str(), 1);
  const RunOutcome outcome = test::runSpec(spec("{ dsn: " + dsn + " }"));
  unsetenv("ODBCINI");
  unsetenv("ODBCSYSINI");
  return outcome;
}

// Setup mistakes on the probe host are not the database being down: reason config, with the
// driver manager's message, and no server involved.
TEST(OdbcProbe, MissingDataSourceFailsWithReasonConfig) {
  const RunOutcome outcome = withTestOdbcIni("db2-missing");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "config") << outcome.result.message;
  EXPECT_NE(outcome.result.message.find("IM002"), std::string::npos) << outcome.result.message;
  EXPECT_NE(outcome.result.message.find("Data source name not found"), std::string::npos)
      << outcome.result.message;
}

TEST(OdbcProbe, DriverLibraryThatCannotBeLoadedFailsWithReasonConfig) {
  const RunOutcome outcome = withTestOdbcIni("db2-prod");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "config") << outcome.result.message;
  EXPECT_NE(outcome.result.message.find("Can't open lib '/opt/ibm/nowhere/libdb2o.so'"),
            std::string::npos)
      << outcome.result.message;
}

TEST(OdbcProbe, DriverGivenByPathThatDoesNotExistFailsWithReasonConfig) {
  const RunOutcome outcome = test::runSpec(
      spec("{ connection_string: \"Driver=/opt/ibm/nowhere/libdb2o.so;Database=APP\" }"));
  EXPECT_EQ(outcome.result.reason, "config") << outcome.result.message;
}

TEST(OdbcProbe, WrongPasswordFailsWithReasonAuth) {
  for (const std::string& connection :
       {postgresString(dbEnv("PG_PORT")), mariadbString(dbEnv("MYSQL_PORT"))}) {
    const RunOutcome outcome = test::runSpec(spec(block(connection, "", "not-the-password")));
    EXPECT_EQ(outcome.result.status, Status::Critical);
    EXPECT_EQ(outcome.result.reason, "auth") << outcome.result.message;
    EXPECT_EQ(outcome.result.message.find("not-the-password"), std::string::npos);
  }
}

TEST(OdbcProbe, RefusedConnectionFailsWithReasonConnect) {
  const RunOutcome outcome =
      test::runSpec(spec(block(postgresString(std::to_string(test::closedPort())), "")));
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "connect") << outcome.result.message;
}

TEST(OdbcProbe, SqlErrorFailsWithReasonQueryError) {
  const RunOutcome outcome = onPostgres("query: \"SELECT * FROM no_such_table\"");
  EXPECT_EQ(outcome.result.reason, "query_error");
  EXPECT_NE(outcome.result.message.find("no_such_table"), std::string::npos);
}

TEST(OdbcProbe, SlowQueryReturnsAtTheDeadlineWhileTheWorkerIsBlocked) {
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = onPostgres("query: \"SELECT pg_sleep(3)\"", "800ms");
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout") << outcome.result.message;
  EXPECT_LT(elapsed, 1.5);
}

TEST(OdbcProbe, BlockedWorkersDoNotStopTheNextRuns) {
  // Six stuck runs at once against four workers: every run still ends at its deadline, and a
  // healthy probe works once the workers are free again.
  std::vector<std::future<RunOutcome>> stuck;
  const ProbeSpec slow =
      spec(block(postgresString(dbEnv("PG_PORT")), "query: \"SELECT pg_sleep(2)\""), "500ms");
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) {
    stuck.push_back(std::async(std::launch::async, [&slow] { return test::runSpec(slow); }));
  }
  for (auto& run : stuck) {
    EXPECT_EQ(run.get().result.reason, "timeout");
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 1.5);
  RunOutcome healthy;
  for (int attempt = 0; attempt < 10; ++attempt) {
    healthy = onPostgres("", "2s");
    if (healthy.result.status == Status::Ok) {
      break;
    }
  }
  EXPECT_EQ(healthy.result.status, Status::Ok) << healthy.result.message;
}

TEST(OdbcProbe, KeptConnectionIsReused) {
  const ProbeSpec kept = spec(block(postgresString(dbEnv("PG_PORT")),
                                    "fresh_connection: false, query: \"SELECT pg_backend_pid() "
                                    "AS pid\""));
  const RunOutcome first = test::runSpec(kept);
  const RunOutcome second = test::runSpec(kept);
  ASSERT_EQ(first.result.status, Status::Ok) << first.result.message;
  ASSERT_EQ(second.result.status, Status::Ok) << second.result.message;
  EXPECT_EQ(sample(first, "vigie_db_query_value", {{"column", "pid"}}),
            sample(second, "vigie_db_query_value", {{"column", "pid"}}));
  EXPECT_FALSE(sample(second, "vigie_db_connect_duration_seconds").has_value());
}

}  // namespace
}  // namespace vigie
