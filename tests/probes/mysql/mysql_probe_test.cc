// SPDX-License-Identifier: Apache-2.0
// The mysql probe against a real MariaDB started by tests/db/db_servers.sh.
#include <gtest/gtest.h>
#include <mysql.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "db_env.h"
#include "test_certs.h"
#include "test_config.h"
#include "test_server.h"

namespace vigie {
namespace {

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

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

std::string block(const std::string& extra, const std::string& host = "127.0.0.1",
                  const std::string& password = "") {
  return "{ host: " + quoted(host) + ", port: " + dbEnv("MYSQL_PORT") +
         ", user: " + dbEnv("DB_USER") + ", dbname: " + dbEnv("DB_NAME") +
         ", password: " + quoted(password.empty() ? dbEnv("DB_PASSWORD") : password) +
         (extra.empty() ? "" : ", " + extra) + " }";
}

ProbeSpec spec(const std::string& mysql_block, const std::string& timeout = "5s") {
  return test::probeFromYaml("probes:\n  - name: my\n    type: mysql\n    timeout: " + timeout +
                             "\n    mysql: " + mysql_block + "\n");
}

RunOutcome probe(const std::string& extra, const std::string& timeout = "5s") {
  return test::runSpec(spec(block(extra), timeout));
}

// Runs SQL as the admin account over the server's Unix socket (blocking client); returns the first
// value.
std::string admin(const std::string& sql) {
  MYSQL* mysql = mysql_init(nullptr);
  std::string value;
  if (mysql_real_connect(mysql, "localhost", dbEnv("MYSQL_ADMIN_USER").c_str(), nullptr, nullptr, 0,
                         dbEnv("MYSQL_SOCKET").c_str(), 0) != nullptr &&
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

TEST(MysqlProbe, HealthyServerAnswersTheDefaultQuery) {
  const RunOutcome outcome = probe("");
  ASSERT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_GT(sample(outcome, "vigie_db_connect_duration_seconds").value_or(0), 0);
  EXPECT_GT(sample(outcome, "vigie_db_query_duration_seconds").value_or(0), 0);
  EXPECT_EQ(sample(outcome, "vigie_db_rows_returned"), 1);
  EXPECT_EQ(sample(outcome, "vigie_db_query_value", {{"column", "1"}}), 1);
}

TEST(MysqlProbe, SessionHasAStatementTimeFromTheProbeTimeout) {
  const RunOutcome outcome = probe(
      "query: \"SELECT @@max_statement_time AS t\", expect_column: t, critical: \"2:3\"", "3s");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

TEST(MysqlProbe, UnixSocketConnects) {
  const RunOutcome outcome =
      test::runSpec(spec("{ host: " + quoted(dbEnv("MYSQL_SOCKET")) +
                         ", user: vigie, password: " + quoted(dbEnv("DB_PASSWORD")) + " }"));
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

TEST(MysqlProbe, WrongPasswordFailsWithReasonAuth) {
  const RunOutcome outcome = test::runSpec(spec(block("", "127.0.0.1", "not-the-password")));
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "auth") << outcome.result.message;
  EXPECT_EQ(outcome.result.message.find("not-the-password"), std::string::npos);
}

TEST(MysqlProbe, RefusedConnectionFailsWithReasonConnect) {
  const RunOutcome outcome = test::runSpec(spec(
      "{ host: \"127.0.0.1\", port: " + std::to_string(test::closedPort()) + ", user: vigie }"));
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "connect") << outcome.result.message;
}

TEST(MysqlProbe, SlowQueryTimesOutAtTheDeadline) {
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = probe("query: \"SELECT SLEEP(10)\"", "700ms");
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout") << outcome.result.message;
  EXPECT_LT(elapsed, 2.0);
}

TEST(MysqlProbe, ConnectionKilledMidQueryIsAFailureNotAHang) {
  std::thread killer([] {
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const std::string id = admin(
          "SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(4.321)%'");
      if (!id.empty()) {
        admin("KILL " + id);
        return;
      }
    }
  });
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = probe("query: \"SELECT SLEEP(4.321)\"", "8s");
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  killer.join();
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_TRUE(outcome.result.reason == "connect" || outcome.result.reason == "query_error")
      << outcome.result.reason << ": " << outcome.result.message;
  EXPECT_LT(elapsed, 4.0);
}

TEST(MysqlProbe, SqlErrorFailsWithReasonQueryError) {
  const RunOutcome outcome = probe("query: \"SELECT * FROM no_such_table\"");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "query_error");
  EXPECT_NE(outcome.result.message.find("no_such_table"), std::string::npos);
}

TEST(MysqlProbe, ExpectationsOnRowsAndValues) {
  const std::string rows = "query: \"SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3\"";
  EXPECT_EQ(probe(rows + ", expect_rows: 3").result.status, Status::Ok);
  EXPECT_EQ(probe(rows + ", expect_rows: 2").result.reason, "expectation");
  const std::string lag = "query: \"SELECT 'db1' AS node, 75 AS lag\", expect_column: lag";
  EXPECT_EQ(probe(lag + ", warning: \"60\", critical: \"90\"").result.status, Status::Warning);
  EXPECT_EQ(probe(lag + ", warning: \"50\", critical: \"70\"").result.status, Status::Critical);
  EXPECT_EQ(probe(lag + ", warning: \"80\"").result.status, Status::Ok);
  EXPECT_EQ(probe("query: \"SELECT @@version AS v\", expect_matches: MariaDB").result.status,
            Status::Ok);
  EXPECT_EQ(probe("query: \"SELECT 'a' AS v\", expect_equals: b").result.reason, "expectation");
}

TEST(MysqlProbe, KeptConnectionIsReusedAndReplacedAfterAFailure) {
  const ProbeSpec kept =
      spec(block("fresh_connection: false, query: \"SELECT CONNECTION_ID() AS id\""));
  const RunOutcome first = test::runSpec(kept);
  ASSERT_EQ(first.result.status, Status::Ok) << first.result.message;
  const RunOutcome second = test::runSpec(kept);
  ASSERT_EQ(second.result.status, Status::Ok) << second.result.message;
  const Labels column{{"column", "id"}};
  const auto id = sample(first, "vigie_db_query_value", column);
  ASSERT_TRUE(id);
  EXPECT_EQ(sample(second, "vigie_db_query_value", column), id);

  admin("KILL " + std::to_string(static_cast<long>(*id)));
  EXPECT_EQ(test::runSpec(kept).result.status, Status::Critical);
  const RunOutcome again = test::runSpec(kept);
  ASSERT_EQ(again.result.status, Status::Ok) << again.result.message;
  EXPECT_NE(sample(again, "vigie_db_query_value", column), id);
}

TEST(MysqlTls, VerifiedConnectionWithTheRightCa) {
  const RunOutcome outcome =
      test::runSpec(spec(block("tls: true, tls_ca_file: " + quoted(dbEnv("TLS_CA_FILE")) +
                                   ", query: \"SHOW STATUS LIKE 'Ssl_version'\", "
                                   "expect_column: Value, expect_matches: \"^TLSv1\"",
                               "localhost")));
  ASSERT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_NE(outcome.result.details[0].find("TLS"), std::string::npos);
}

TEST(MysqlTls, AnotherCaFailsWithReasonTls) {
  const std::string dir = test::makeTempDir();
  const auto other = test::makeCertificate(dir, "other", {.common_name = "Other", .is_ca = true});
  const RunOutcome outcome =
      test::runSpec(spec(block("tls: true, tls_ca_file: " + quoted(other.cert), "localhost")));
  std::filesystem::remove_all(dir);
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "tls") << outcome.result.message;
}

TEST(MysqlTls, InsecureSkipVerifyAcceptsAnUnknownCa) {
  const RunOutcome outcome = probe("tls: true, tls_insecure_skip_verify: true");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

}  // namespace
}  // namespace vigie
