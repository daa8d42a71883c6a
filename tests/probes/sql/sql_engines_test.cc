// SPDX-License-Identifier: Apache-2.0
// What every SQL engine (postgres, mysql) must do the same way, against its real server started
// by tests/db/db_servers.sh. Engine-specific behaviour stays in tests/probes/<engine>/.
#include "sql_engines.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test_server.h"

namespace vigie {
namespace {

using test::sample;

template <typename Engine>
class SqlEngine : public ::testing::Test {
 protected:
  static RunOutcome probe(const std::string& extra, const std::string& timeout = "5s") {
    return test::runSpec(test::engineSpec<Engine>(Engine::block(extra), timeout));
  }
};

using Engines = ::testing::Types<test::Postgres, test::Mysql>;
class EngineNames {
 public:
  template <typename Engine>
  static std::string GetName(int) {
    return Engine::kType;
  }
};
TYPED_TEST_SUITE(SqlEngine, Engines, EngineNames);

double secondsSince(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

TYPED_TEST(SqlEngine, HealthyServerAnswersTheDefaultQuery) {
  const RunOutcome outcome = this->probe("");
  ASSERT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_EQ(outcome.result.reason, "");
  EXPECT_GT(sample(outcome, "vigie_db_connect_duration_seconds").value_or(0), 0);
  EXPECT_GT(sample(outcome, "vigie_db_query_duration_seconds").value_or(0), 0);
  EXPECT_EQ(sample(outcome, "vigie_db_rows_returned"), 1);
  EXPECT_EQ(sample(outcome, "vigie_db_query_value", {{"column", TypeParam::kDefaultColumn}}), 1);
}

TYPED_TEST(SqlEngine, WrongPasswordFailsWithReasonAuth) {
  const RunOutcome outcome =
      test::runSpec(test::engineSpec<TypeParam>(TypeParam::block("", "not-the-password")));
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "auth") << outcome.result.message;
  EXPECT_EQ(outcome.result.message.find("not-the-password"), std::string::npos);
}

TYPED_TEST(SqlEngine, RefusedConnectionFailsWithReasonConnect) {
  const RunOutcome outcome = test::runSpec(test::engineSpec<TypeParam>(
      "{ host: \"127.0.0.1\", port: " + std::to_string(test::closedPort()) + ", user: vigie }"));
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "connect") << outcome.result.message;
  if (TypeParam::kRefusalSaysRefused) {
    EXPECT_NE(outcome.result.message.find("refused"), std::string::npos) << outcome.result.message;
  }
}

TYPED_TEST(SqlEngine, SlowQueryTimesOutAtTheDeadline) {
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = this->probe("query: \"" + TypeParam::sleep("10") + "\"", "700ms");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout") << outcome.result.message;
  EXPECT_LT(secondsSince(started), 2.0);
}

TYPED_TEST(SqlEngine, SessionKilledMidQueryIsAFailureNotAHang) {
  std::thread killer([] {
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (TypeParam::killSleeping("4.321")) {
        return;
      }
    }
  });
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = this->probe("query: \"" + TypeParam::sleep("4.321") + "\"", "8s");
  const double elapsed = secondsSince(started);
  killer.join();
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_TRUE(outcome.result.reason == "connect" || outcome.result.reason == "query_error")
      << outcome.result.reason << ": " << outcome.result.message;
  EXPECT_LT(elapsed, 4.0);
}

TYPED_TEST(SqlEngine, SqlErrorFailsWithReasonQueryError) {
  const RunOutcome outcome = this->probe("query: \"SELECT * FROM no_such_table\"");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "query_error");
  EXPECT_NE(outcome.result.message.find("no_such_table"), std::string::npos);
}

TYPED_TEST(SqlEngine, RowCountExpectations) {
  const std::string three_rows = "query: \"" + std::string(TypeParam::kThreeRows) + "\"";
  EXPECT_EQ(this->probe(three_rows + ", expect_rows: 3").result.status, Status::Ok);
  const RunOutcome exact = this->probe(three_rows + ", expect_rows: 2");
  EXPECT_EQ(exact.result.reason, "expectation");
  EXPECT_EQ(exact.result.message, "query returned 3 rows, expected 2");
  EXPECT_EQ(sample(exact, "vigie_db_rows_returned"), 3);
  EXPECT_EQ(this->probe(three_rows + ", expect_rows_min: 1, expect_rows_max: 3").result.status,
            Status::Ok);
  EXPECT_EQ(this->probe(three_rows + ", expect_rows_min: 4").result.reason, "expectation");
  EXPECT_EQ(this->probe(three_rows + ", expect_rows_max: 2").result.reason, "expectation");
}

TYPED_TEST(SqlEngine, ValueThresholdsGiveWarningAndCritical) {
  auto lag = [this](int seconds, const std::string& ranges = "warning: \"60\", critical: \"90\"") {
    return this->probe("query: \"SELECT 'db1' AS node, " + std::to_string(seconds) +
                       " AS lag\", expect_column: lag, " + ranges);
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
  EXPECT_EQ(lag(75, "warning: \"50\", critical: \"70\"").result.status, Status::Critical);
  EXPECT_EQ(lag(75, "warning: \"80\"").result.status, Status::Ok);
}

TYPED_TEST(SqlEngine, ValueEqualsAndNull) {
  EXPECT_EQ(this->probe("query: \"SELECT 'a' AS v\", expect_equals: a").result.status, Status::Ok);
  EXPECT_EQ(this->probe("query: \"SELECT 'a' AS v\", expect_equals: b").result.reason,
            "expectation");
  EXPECT_EQ(this->probe("query: \"SELECT NULL AS x\", expect_equals: \"\"").result.message,
            "value of x is NULL");
}

TYPED_TEST(SqlEngine, KeptConnectionIsReusedAndReplacedAfterAFailure) {
  const ProbeSpec kept = test::engineSpec<TypeParam>(TypeParam::block(
      "fresh_connection: false, query: \"" + std::string(TypeParam::kConnectionId) + "\""));
  const RunOutcome first = test::runSpec(kept);
  ASSERT_EQ(first.result.status, Status::Ok) << first.result.message;
  const RunOutcome second = test::runSpec(kept);
  ASSERT_EQ(second.result.status, Status::Ok) << second.result.message;
  const Labels column{{"column", TypeParam::kConnectionIdColumn}};
  const auto id = sample(first, "vigie_db_query_value", column);
  ASSERT_TRUE(id);
  EXPECT_EQ(sample(second, "vigie_db_query_value", column), id);
  EXPECT_FALSE(sample(second, "vigie_db_connect_duration_seconds").has_value());

  TypeParam::killConnection(static_cast<long>(*id));
  const RunOutcome broken = test::runSpec(kept);
  EXPECT_EQ(broken.result.status, Status::Critical);
  const RunOutcome again = test::runSpec(kept);
  ASSERT_EQ(again.result.status, Status::Ok) << again.result.message;
  EXPECT_NE(sample(again, "vigie_db_query_value", column), id);
}

}  // namespace
}  // namespace vigie
