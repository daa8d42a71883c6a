// SPDX-License-Identifier: Apache-2.0
// What only the mysql probe does, against a real MariaDB started by tests/db/db_servers.sh; what
// every SQL engine does is in tests/probes/sql/sql_engines_test.cc.
#include <gtest/gtest.h>

#include <filesystem>

#include "sql_engines.h"
#include "test_certs.h"

namespace vigie {
namespace {

using test::dbEnv;
using test::Mysql;
using test::quoted;

ProbeSpec spec(const std::string& mysql_block, const std::string& timeout = "5s") {
  return test::engineSpec<Mysql>(mysql_block, timeout);
}

RunOutcome probe(const std::string& extra, const std::string& timeout = "5s") {
  return test::runSpec(spec(Mysql::block(extra), timeout));
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

TEST(MysqlProbe, ValueMatchesTheServerVersion) {
  EXPECT_EQ(probe("query: \"SELECT @@version AS v\", expect_matches: MariaDB").result.status,
            Status::Ok);
}

TEST(MysqlTls, VerifiedConnectionWithTheRightCa) {
  const RunOutcome outcome =
      test::runSpec(spec(Mysql::block("tls: true, tls_ca_file: " + quoted(dbEnv("TLS_CA_FILE")) +
                                          ", query: \"SHOW STATUS LIKE 'Ssl_version'\", "
                                          "expect_column: Value, expect_matches: \"^TLSv1\"",
                                      "", "localhost")));
  ASSERT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_NE(outcome.result.details[0].find("TLS"), std::string::npos);
}

TEST(MysqlTls, AnotherCaFailsWithReasonTls) {
  const std::string dir = test::makeTempDir();
  const auto other = test::makeCertificate(dir, "other", {.common_name = "Other", .is_ca = true});
  const RunOutcome outcome = test::runSpec(
      spec(Mysql::block("tls: true, tls_ca_file: " + quoted(other.cert), "", "localhost")));
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
