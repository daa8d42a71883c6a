// SPDX-License-Identifier: Apache-2.0
// The postgres probe against a real PostgreSQL started by tests/db/db_servers.sh.
#include <gtest/gtest.h>
#include <libpq-fe.h>

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

// A probe block for the test server; `extra` adds or overrides keys.
std::string block(const std::string& extra, const std::string& password = "") {
  return "{ host: \"127.0.0.1\", port: " + dbEnv("PG_PORT") + ", user: " + dbEnv("DB_USER") +
         ", dbname: " + dbEnv("DB_NAME") +
         ", password: " + quoted(password.empty() ? dbEnv("DB_PASSWORD") : password) +
         (extra.empty() ? "" : ", " + extra) + " }";
}

ProbeSpec spec(const std::string& postgres_block, const std::string& timeout = "5s") {
  return test::probeFromYaml("probes:\n  - name: pg\n    type: postgres\n    timeout: " + timeout +
                             "\n    postgres: " + postgres_block + "\n");
}

RunOutcome probe(const std::string& extra, const std::string& timeout = "5s") {
  return test::runSpec(spec(block(extra), timeout));
}

// Runs SQL as the superuser over the server's Unix socket; returns the first value.
std::string admin(const std::string& sql) {
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

TEST(PostgresProbe, HealthyServerAnswersTheDefaultQuery) {
  const RunOutcome outcome = probe("");
  ASSERT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_EQ(outcome.result.reason, "");
  EXPECT_GT(sample(outcome, "vigie_db_connect_duration_seconds").value_or(0), 0);
  EXPECT_GT(sample(outcome, "vigie_db_query_duration_seconds").value_or(0), 0);
  EXPECT_EQ(sample(outcome, "vigie_db_rows_returned"), 1);
  EXPECT_EQ(sample(outcome, "vigie_db_query_value", {{"column", "?column?"}}), 1);
}

TEST(PostgresProbe, SessionCarriesApplicationNameAndStatementTimeout) {
  // statement_timeout is the time left before the deadline when connecting.
  const RunOutcome outcome = probe(
      "query: \"SELECT current_setting('application_name') = 'vigie' AND "
      "current_setting('statement_timeout')::interval BETWEEN '2s' AND '3s' AS ok\", "
      "expect_equals: t",
      "3s");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

TEST(PostgresProbe, GssEncryptionIsOffByDefaultAndRequiredOnlyWhenAsked) {
  // The test server has no Kerberos: requiring GSSAPI encryption must fail, the default must not.
  EXPECT_EQ(probe("").result.status, Status::Ok);
  const RunOutcome required = probe("gssencmode: require");
  EXPECT_EQ(required.result.status, Status::Critical);
  EXPECT_NE(required.result.message.find("GSSAPI"), std::string::npos) << required.result.message;
}

TEST(PostgresProbe, WrongPasswordFailsWithReasonAuth) {
  const RunOutcome outcome = test::runSpec(spec(block("", "not-the-password")));
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "auth") << outcome.result.message;
  EXPECT_EQ(outcome.result.message.find("not-the-password"), std::string::npos);
}

TEST(PostgresProbe, RefusedConnectionFailsWithReasonConnect) {
  const RunOutcome outcome = test::runSpec(spec(
      "{ host: \"127.0.0.1\", port: " + std::to_string(test::closedPort()) + ", user: vigie }"));
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "connect");
  EXPECT_NE(outcome.result.message.find("refused"), std::string::npos) << outcome.result.message;
}

TEST(PostgresProbe, HostNameIsResolvedOnTheLoop) {
  // localhost may resolve to ::1 first, where the server does not listen: libpq gets every
  // address and moves on to 127.0.0.1.
  const RunOutcome outcome =
      test::runSpec(spec("{ host: localhost, port: " + dbEnv("PG_PORT") +
                         ", user: vigie, dbname: vigie, password: " + quoted(dbEnv("DB_PASSWORD")) +
                         ", sslmode: disable }"));
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

TEST(PostgresProbe, SlowQueryTimesOutAtTheDeadline) {
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = probe("query: \"SELECT pg_sleep(10)\"", "700ms");
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout") << outcome.result.message;
  EXPECT_LT(elapsed, 2.0);
}

TEST(PostgresProbe, BackendKilledMidQueryIsAFailureNotAHang) {
  std::thread killer([] {
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (admin("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE "
                "'%pg_sleep(4.321)%' AND pid <> pg_backend_pid()") == "1") {
        return;
      }
    }
  });
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = probe("query: \"SELECT pg_sleep(4.321)\"", "8s");
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  killer.join();
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_TRUE(outcome.result.reason == "connect" || outcome.result.reason == "query_error")
      << outcome.result.reason << ": " << outcome.result.message;
  EXPECT_LT(elapsed, 4.0);
}

TEST(PostgresProbe, SqlErrorFailsWithReasonQueryError) {
  const RunOutcome outcome = probe("query: \"SELECT * FROM no_such_table\"");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "query_error");
  EXPECT_NE(outcome.result.message.find("no_such_table"), std::string::npos);
}

TEST(PostgresProbe, RowCountExpectations) {
  const std::string three_rows = "query: \"SELECT generate_series(1, 3) AS n\"";
  EXPECT_EQ(probe(three_rows + ", expect_rows: 3").result.status, Status::Ok);
  const RunOutcome exact = probe(three_rows + ", expect_rows: 2");
  EXPECT_EQ(exact.result.reason, "expectation");
  EXPECT_EQ(exact.result.message, "query returned 3 rows, expected 2");
  EXPECT_EQ(sample(exact, "vigie_db_rows_returned"), 3);
  EXPECT_EQ(probe(three_rows + ", expect_rows_min: 1, expect_rows_max: 3").result.status,
            Status::Ok);
  EXPECT_EQ(probe(three_rows + ", expect_rows_min: 4").result.reason, "expectation");
  EXPECT_EQ(probe(three_rows + ", expect_rows_max: 2").result.reason, "expectation");
}

TEST(PostgresProbe, ValueThresholdsGiveWarningAndCritical) {
  auto lag = [](int seconds) {
    return probe("query: \"SELECT 'db1' AS node, " + std::to_string(seconds) +
                 " AS lag\", expect_column: lag, warning: \"60\", critical: \"90\"");
  };
  const RunOutcome fine = lag(10);
  EXPECT_EQ(fine.result.status, Status::Ok) << fine.result.message;
  EXPECT_EQ(sample(fine, "vigie_db_query_value", {{"column", "lag"}}), 10);
  EXPECT_FALSE(sample(fine, "vigie_db_query_value", {{"column", "node"}}).has_value());
  const RunOutcome warning = lag(75);
  EXPECT_EQ(warning.result.status, Status::Warning);
  EXPECT_EQ(warning.result.reason, "expectation");
  EXPECT_EQ(warning.result.message, "value of lag is 75 (warning range 60)");
  const RunOutcome critical = lag(95);
  EXPECT_EQ(critical.result.status, Status::Critical);
  EXPECT_EQ(critical.result.reason, "expectation");
}

TEST(PostgresProbe, ValueEqualsAndMatches) {
  const std::string role =
      "query: \"SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE "
      "'primary' END AS role\"";
  EXPECT_EQ(probe(role + ", expect_equals: primary").result.status, Status::Ok);
  const RunOutcome mismatch = probe(role + ", expect_matches: \"^stand\"");
  EXPECT_EQ(mismatch.result.reason, "expectation");
  EXPECT_EQ(mismatch.result.message, "value of role is 'primary', which does not match '^stand'");
  EXPECT_EQ(probe("query: \"SELECT NULL AS x\", expect_equals: \"\"").result.message,
            "value of x is NULL");
}

TEST(PostgresProbe, KeptConnectionIsReusedAndReplacedAfterAFailure) {
  const ProbeSpec kept = spec(block("fresh_connection: false, query: \"SELECT pg_backend_pid()\""));
  const RunOutcome first = test::runSpec(kept);
  ASSERT_EQ(first.result.status, Status::Ok) << first.result.message;
  const RunOutcome second = test::runSpec(kept);
  ASSERT_EQ(second.result.status, Status::Ok) << second.result.message;
  const Labels column{{"column", "pg_backend_pid"}};
  const auto pid = sample(first, "vigie_db_query_value", column);
  ASSERT_TRUE(pid);
  EXPECT_EQ(sample(second, "vigie_db_query_value", column), pid);
  EXPECT_FALSE(sample(second, "vigie_db_connect_duration_seconds").has_value());

  admin("SELECT pg_terminate_backend(" + std::to_string(static_cast<long>(*pid)) + ")");
  const RunOutcome broken = test::runSpec(kept);
  EXPECT_EQ(broken.result.status, Status::Critical);
  const RunOutcome again = test::runSpec(kept);
  ASSERT_EQ(again.result.status, Status::Ok) << again.result.message;
  EXPECT_NE(sample(again, "vigie_db_query_value", column), pid);
}

class PostgresTls : public ::testing::Test {
 protected:
  static std::string tls(const std::string& mode, const std::string& ca_file) {
    return "sslmode: " + mode + (ca_file.empty() ? "" : ", tls_ca_file: " + quoted(ca_file));
  }
};

TEST_F(PostgresTls, VerifyFullWithTheRightCaSucceeds) {
  const RunOutcome outcome =
      test::runSpec(spec("{ host: localhost, port: " + dbEnv("PG_PORT") +
                         ", user: vigie, dbname: vigie, password: " + quoted(dbEnv("DB_PASSWORD")) +
                         ", " + tls("verify-full", dbEnv("TLS_CA_FILE")) + " }"));
  ASSERT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  ASSERT_FALSE(outcome.result.details.empty());
  EXPECT_NE(outcome.result.details[0].find("TLSv1."), std::string::npos)
      << outcome.result.details[0];
}

TEST_F(PostgresTls, VerifyFullWithAnotherCaFailsWithReasonTls) {
  const std::string dir = test::makeTempDir();
  const auto other = test::makeCertificate(dir, "other", {.common_name = "Other", .is_ca = true});
  const RunOutcome outcome = probe(tls("verify-full", other.cert));
  std::filesystem::remove_all(dir);
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "tls") << outcome.result.message;
}

TEST_F(PostgresTls, VerifyCaWithTheRightCaSucceeds) {
  EXPECT_EQ(probe(tls("verify-ca", dbEnv("TLS_CA_FILE"))).result.status, Status::Ok);
}

TEST_F(PostgresTls, DisabledTlsStillConnects) {
  const RunOutcome outcome = probe(tls("disable", ""));
  ASSERT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_EQ(outcome.result.details[0].find("TLS"), std::string::npos);
}

}  // namespace
}  // namespace vigie
