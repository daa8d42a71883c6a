// SPDX-License-Identifier: Apache-2.0
#include "db_common/db_common.h"

#include <strings.h>
#include <sys/stat.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "util/no_throw.h"

namespace vigie::probes::db {
namespace {

using namespace asio::experimental::awaitable_operators;

// The whole text must be a number: "12abc" is a string, not 12.
std::optional<double> parseNumber(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string formatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.15g", value);
  return text;
}

std::optional<std::int64_t> optionalInt(const ProbeConfig& config, const std::string& key) {
  if (!config.has(key)) {
    return std::nullopt;
  }
  const std::int64_t value = config.getInt(key);
  if (value < 0) {
    config.fail(key, "must be 0 or more");
  }
  return value;
}

std::optional<Range> optionalRange(const ProbeConfig& config, const std::string& key) {
  if (!config.has(key)) {
    return std::nullopt;
  }
  auto range = Range::parse(config.getString(key));
  if (!range) {
    config.fail(key,
                "expected a Nagios range such as \"10\", \"10:\", \"~:10\", \"5:10\" or "
                "\"@5:10\", got '" +
                    config.getString(key) + "'");
  }
  return range;
}

}  // namespace

bool Range::alerts(double value) const {
  const bool inside = value >= start && value <= end;
  return alert_inside ? inside : !inside;
}

std::optional<Range> Range::parse(const std::string& text) {
  Range range;
  range.text = text;
  std::string body = text;
  if (!body.empty() && body[0] == '@') {
    range.alert_inside = true;
    body.erase(0, 1);
  }
  const auto colon = body.find(':');
  if (colon == std::string::npos) {
    const auto end = parseNumber(body);
    if (!end) {
      return std::nullopt;
    }
    range.end = *end;
  } else {
    const std::string start = body.substr(0, colon);
    const std::string end = body.substr(colon + 1);
    if (start == "~") {
      range.start = -std::numeric_limits<double>::infinity();
    } else {
      const auto value = parseNumber(start);
      if (!value) {
        return std::nullopt;
      }
      range.start = *value;
    }
    if (!end.empty()) {
      const auto value = parseNumber(end);
      if (!value) {
        return std::nullopt;
      }
      range.end = *value;
    }
  }
  if (range.start > range.end) {
    return std::nullopt;
  }
  return range;
}

void appendCommonSchema(ConfigSchema& schema, const std::string& default_query) {
  schema.push_back({"query", FieldType::String, false, default_query,
                    "SQL run after connecting; the last result set is checked"});
  schema.push_back({"fresh_connection", FieldType::Bool, false, "true",
                    "Connect anew on every run; false keeps one connection, re-established after "
                    "a failure"});
  schema.push_back({"expect_rows", FieldType::Int, false, {}, "Exact number of rows expected"});
  schema.push_back({"expect_rows_min", FieldType::Int, false, {}, "Fewest rows accepted"});
  schema.push_back({"expect_rows_max", FieldType::Int, false, {}, "Most rows accepted"});
  schema.push_back({"expect_column",
                    FieldType::String,
                    false,
                    {},
                    "First-row column the value checks read (default: the first column)"});
  schema.push_back({"expect_equals",
                    FieldType::String,
                    false,
                    {},
                    "The first-row value must be exactly this text"});
  schema.push_back({"expect_matches",
                    FieldType::String,
                    false,
                    {},
                    "The first-row value must contain this regular expression (ECMAScript)"});
  schema.push_back({"warning",
                    FieldType::String,
                    false,
                    {},
                    "Nagios range for the numeric first-row value; outside it is WARNING"});
  schema.push_back({"critical",
                    FieldType::String,
                    false,
                    {},
                    "Nagios range for the numeric first-row value; outside it is CRITICAL"});
}

CommonSettings parseCommon(const ProbeConfig& config) {
  CommonSettings settings;
  settings.query = config.getString("query");
  if (settings.query.empty()) {
    config.fail("query", "must not be empty");
  }
  settings.fresh_connection = config.getBool("fresh_connection");
  Expectations& expect = settings.expect;
  expect.rows = optionalInt(config, "expect_rows");
  expect.rows_min = optionalInt(config, "expect_rows_min");
  expect.rows_max = optionalInt(config, "expect_rows_max");
  if (expect.rows && (expect.rows_min || expect.rows_max)) {
    config.fail(expect.rows_min ? "expect_rows_min" : "expect_rows_max",
                "use either expect_rows or expect_rows_min/expect_rows_max");
  }
  if (expect.rows_min && expect.rows_max && *expect.rows_min > *expect.rows_max) {
    config.fail("expect_rows_max", "is below expect_rows_min");
  }
  if (config.has("expect_column")) {
    expect.column = config.getString("expect_column");
  }
  if (config.has("expect_equals")) {
    expect.equals = config.getString("expect_equals");
  }
  if (config.has("expect_matches")) {
    expect.matches_text = config.getString("expect_matches");
    try {
      expect.matches.emplace(expect.matches_text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      config.fail("expect_matches", std::string("invalid regular expression: ") + e.what());
    }
  }
  expect.warning = optionalRange(config, "warning");
  expect.critical = optionalRange(config, "critical");
  if (!expect.column.empty() && !expect.checksValue()) {
    config.fail("expect_column",
                "only meaningful with expect_equals, expect_matches, warning or critical");
  }
  return settings;
}

namespace {

struct DbFamilies {
  FamilyHandle connect = declareFamily("vigie_db_connect_duration_seconds",
                                       "Time to connect and authenticate, TLS included");
  FamilyHandle query = declareFamily("vigie_db_query_duration_seconds",
                                     "Time from sending the query to its last result");
  FamilyHandle rows = declareFamily("vigie_db_rows_returned", "Rows returned by the query");
  FamilyHandle value = declareFamily("vigie_db_query_value", "Numeric columns of the first row");
};

const DbFamilies& dbFamilies() {
  static const DbFamilies declared;
  return declared;
}

}  // namespace

const Families& families() {
  static const Families all{dbFamilies().connect, dbFamilies().query, dbFamilies().rows,
                            dbFamilies().value};
  return all;
}

void RunReport::connected(double seconds, const std::string& detail) {
  samples_.push_back({dbFamilies().connect, seconds});
  details_.push_back(detail + " in " + milliseconds(seconds));
}

void RunReport::reusedConnection() { details_.push_back("reused the kept connection"); }

void RunReport::queried(double seconds) {
  query_seconds_ = seconds;
  samples_.push_back({dbFamilies().query, seconds});
}

ProbeResult RunReport::finish(ProbeResult result) {
  result.samples = std::move(samples_);
  result.details = std::move(details_);
  return result;
}

ProbeResult RunReport::fail(std::string reason, std::string message) {
  return finish(ProbeResult::critical(std::move(reason), std::move(message)));
}

ProbeResult RunReport::evaluate(const CommonSettings& settings, const QueryResult& result) {
  samples_.push_back({dbFamilies().rows, static_cast<double>(result.rows)});
  for (std::size_t i = 0; i < result.first_row.size() && i < result.columns.size(); ++i) {
    if (!result.first_row[i]) {
      continue;
    }
    if (const auto number = parseNumber(*result.first_row[i])) {
      samples_.push_back({dbFamilies().value, *number, {{"column", result.columns[i]}}});
    }
  }
  const std::string rows_text = std::to_string(result.rows) + (result.rows == 1 ? " row" : " rows");
  details_.push_back("query returned " + rows_text + " in " + milliseconds(query_seconds_));

  const Expectations& expect = settings.expect;
  if (expect.rows && result.rows != *expect.rows) {
    return fail("expectation",
                "query returned " + rows_text + ", expected " + std::to_string(*expect.rows));
  }
  if (expect.rows_min && result.rows < *expect.rows_min) {
    return fail("expectation", "query returned " + rows_text + ", expected at least " +
                                   std::to_string(*expect.rows_min));
  }
  if (expect.rows_max && result.rows > *expect.rows_max) {
    return fail("expectation", "query returned " + rows_text + ", expected at most " +
                                   std::to_string(*expect.rows_max));
  }
  if (!expect.checksValue()) {
    return finish(
        ProbeResult::ok("query returned " + rows_text + " in " + milliseconds(query_seconds_)));
  }

  if (result.first_row.empty()) {
    return fail("expectation", "query returned no row to check");
  }
  std::size_t index = 0;
  if (!expect.column.empty()) {
    index = result.columns.size();
    for (std::size_t i = 0; i < result.columns.size(); ++i) {
      if (strcasecmp(result.columns[i].c_str(), expect.column.c_str()) == 0) {
        index = i;
        break;
      }
    }
    if (index == result.columns.size() || index >= result.first_row.size()) {
      return fail("expectation", "the result has no column '" + expect.column + "'");
    }
  }
  const std::string name = index < result.columns.size() ? result.columns[index] : "?";
  const auto& cell = result.first_row[index];
  if (!cell) {
    return fail("expectation", "value of " + name + " is NULL");
  }
  const std::string& value = *cell;
  if (expect.equals && value != *expect.equals) {
    return fail("expectation",
                "value of " + name + " is '" + value + "', expected '" + *expect.equals + "'");
  }
  if (expect.matches && !std::regex_search(value, *expect.matches)) {
    return fail("expectation", "value of " + name + " is '" + value + "', which does not match '" +
                                   expect.matches_text + "'");
  }
  if (expect.warning || expect.critical) {
    const auto number = parseNumber(value);
    if (!number) {
      return fail("expectation", "value of " + name + " is '" + value + "', not a number");
    }
    if (expect.critical && expect.critical->alerts(*number)) {
      return fail("expectation", "value of " + name + " is " + formatNumber(*number) +
                                     " (critical range " + expect.critical->text + ")");
    }
    if (expect.warning && expect.warning->alerts(*number)) {
      ProbeResult warning{Status::Warning,
                          "expectation",
                          "value of " + name + " is " + formatNumber(*number) + " (warning range " +
                              expect.warning->text + ")",
                          {},
                          {}};
      return finish(std::move(warning));
    }
  }
  return finish(ProbeResult::ok("value of " + name + " is '" + value + "', query took " +
                                milliseconds(query_seconds_)));
}

SocketWaiter::~SocketWaiter() {
  if (descriptor_.is_open()) {
    descriptor_.release();
  }
}

asio::awaitable<asio::error_code> SocketWaiter::wait(int fd, bool read, bool write) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    co_return asio::error_code(errno, asio::error::get_system_category());
  }
  if (!descriptor_.is_open() || descriptor_.native_handle() != fd || inode_ != info.st_ino) {
    if (descriptor_.is_open()) {
      descriptor_.release();
    }
    asio::error_code ec;
    descriptor_.assign(fd, ec);
    if (ec) {
      co_return ec;
    }
    inode_ = info.st_ino;
  }
  if (read && write) {
    auto either =
        co_await (descriptor_.async_wait(asio::posix::descriptor_base::wait_read, kNoThrow) ||
                  descriptor_.async_wait(asio::posix::descriptor_base::wait_write, kNoThrow));
    co_return std::visit([](const auto& outcome) { return std::get<0>(outcome); }, either);
  }
  auto [ec] = co_await descriptor_.async_wait(
      read ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write,
      kNoThrow);
  co_return ec;
}

}  // namespace vigie::probes::db
