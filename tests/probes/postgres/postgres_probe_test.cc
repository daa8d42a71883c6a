// SPDX-License-Identifier: Apache-2.0
// What only the postgres probe does, against a real PostgreSQL started by tests/db/db_servers.sh;
// what every SQL engine does is in tests/probes/sql/sql_engines_test.cc.
#include <gtest/gtest.h>

#include <filesystem>

#include "sql_engines.h"
#include "test_certs.h"

namespace vigie {
namespace {

using test::dbEnv;
using test::Postgres;
using test::quoted;

ProbeSpec spec(const std::string& postgres_block, const std::string& timeout = "5s") {
  return test::engineSpec<Postgres>(postgres_block, timeout);
}

RunOutcome probe(const std::string& extra, const std::string& timeout = "5s") {
  return test::runSpec(spec(Postgres::block(extra), timeout));
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

TEST(PostgresProbe, HostNameIsResolvedOnTheLoop) {
  // localhost may resolve to ::1 first, where the server does not listen: libpq gets every
  // address and moves on to 127.0.0.1.
  const RunOutcome outcome =
      test::runSpec(spec("{ host: localhost, port: " + dbEnv("PG_PORT") +
                         ", user: vigie, dbname: vigie, password: " + quoted(dbEnv("DB_PASSWORD")) +
                         ", sslmode: disable }"));
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

TEST(PostgresProbe, ValueEqualsAndMatches) {
  const std::string role =
      "query: \"SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE "
      "'primary' END AS role\"";
  EXPECT_EQ(probe(role + ", expect_equals: primary").result.status, Status::Ok);
  const RunOutcome mismatch = probe(role + ", expect_matches: \"^stand\"");
  EXPECT_EQ(mismatch.result.reason, "expectation");
  EXPECT_EQ(mismatch.result.message, "value of role is 'primary', which does not match '^stand'");
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
