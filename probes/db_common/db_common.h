// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <sys/types.h>

#include <asio/awaitable.hpp>
#include <asio/error_code.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "util/timing.h"
#include "vigie/probe.h"

/// What the database probe types (postgres, mysql, odbc) share: the query and expectation keys,
/// their evaluation into a result with the vigie_db_* metrics, and the fixed reason set
/// auth, connect, tls, timeout, query_error, expectation.
namespace vigie::probes::db {

/// A Nagios threshold range ("10", "10:", "~:10", "10:20", "@10:20"): alerts when the value is
/// outside [start, end], or inside it with a leading '@'.
struct Range {
  double start = 0;
  double end = std::numeric_limits<double>::infinity();
  bool alert_inside = false;
  std::string text;

  bool alerts(double value) const;
  static std::optional<Range> parse(const std::string& text);
};

struct Expectations {
  std::optional<std::int64_t> rows;
  std::optional<std::int64_t> rows_min;
  std::optional<std::int64_t> rows_max;
  /// The first-row column the value checks read; empty for the first column.
  std::string column;
  std::optional<std::string> equals;
  std::optional<std::regex> matches;
  std::string matches_text;
  std::optional<Range> warning;
  std::optional<Range> critical;

  bool checksValue() const { return equals || matches || warning || critical; }
};

struct CommonSettings {
  std::string query;
  bool fresh_connection = true;
  Expectations expect;
};

/// Appends the query, expectation and connection-reuse keys to a type's schema.
void appendCommonSchema(ConfigSchema& schema, const std::string& default_query);
/// Reads those keys; invalid values fail through `config.fail`.
CommonSettings parseCommon(const ProbeConfig& config);

/// The metric families every database type reports.
const Families& families();

/// What a driver hands over once the query ran: the row count and the first row as text.
struct QueryResult {
  std::int64_t rows = 0;
  std::vector<std::string> columns;
  std::vector<std::optional<std::string>> first_row;  ///< nullopt for SQL NULL
};

/// Gathers the timings of one run and turns them, with the query result, into a ProbeResult.
class RunReport {
 public:
  void connected(double seconds, const std::string& detail);
  void reusedConnection();
  void queried(double seconds);

  /// A CRITICAL result carrying the samples gathered so far. `reason` is one of the fixed set.
  ProbeResult fail(std::string reason, std::string message);
  /// Checks the expectations: OK, WARNING or CRITICAL (reason "expectation").
  ProbeResult evaluate(const CommonSettings& settings, const QueryResult& result);

 private:
  ProbeResult finish(ProbeResult result);

  std::vector<Sample> samples_;
  std::vector<std::string> details_;
  double query_seconds_ = 0;
};

/// One run of an SQL engine that may keep its connection between runs (fresh_connection:
/// false): take the kept connection or open one, run the query, keep the connection for the next
/// run, evaluate the expectations. `engine` provides
///   bool usable(const Connection&) const;  // the kept one may be reused
///   awaitable<Handle> connect(ProbeContext&, SocketWaiter&, RunReport&,
///                             std::optional<ProbeResult>& failure) const;  // null on failure
///   awaitable<std::optional<ProbeResult>> query(Connection&, ProbeContext&, SocketWaiter&,
///                                               RunReport&, QueryResult&) const;
/// where Handle owns a Connection (a unique_ptr). `kept` and `settings` outlive the run.
template <typename Engine, typename Handle>
asio::awaitable<ProbeResult> runKeptConnection(const Engine& engine, Handle& kept,
                                               const CommonSettings& settings, ProbeContext& ctx);

/// Waits, on the loop, until a socket owned by a client library is readable and/or writable.
/// The socket stays registered with the loop from one wait to the next (registering it for each
/// wait cost three system calls every time); it is borrowed, never closed here. The waiter lets
/// go of it when destroyed: before the library closes the socket, or right after it without a
/// wait in between (a failed connection), so its number cannot have gone to another socket of
/// the loop.
class SocketWaiter {
 public:
  explicit SocketWaiter(const asio::any_io_executor& executor) : descriptor_(executor) {}
  ~SocketWaiter();
  SocketWaiter(const SocketWaiter&) = delete;
  SocketWaiter& operator=(const SocketWaiter&) = delete;

  /// Returns operation_aborted when the calling coroutine is cancelled.
  asio::awaitable<asio::error_code> wait(int fd, bool read, bool write);

 private:
  asio::posix::stream_descriptor descriptor_;
  /// The socket's inode: libpq may close a socket and open the next one under the same number
  /// (fallback to the next address, or to plain text), which must be registered anew.
  ino_t inode_ = 0;
};

template <typename Engine, typename Handle>
asio::awaitable<ProbeResult> runKeptConnection(const Engine& engine, Handle& kept,
                                               const CommonSettings& settings, ProbeContext& ctx) {
  RunReport report;
  // Taken out while in use: a cancelled or failed run drops it, mid-protocol as it may be.
  Handle conn = std::move(kept);
  // Declared after the connection, so it lets go of the socket before the library closes it.
  SocketWaiter waiter(ctx.executor);
  if (conn && engine.usable(*conn)) {
    report.reusedConnection();
  } else {
    std::optional<ProbeResult> failure;
    conn = co_await engine.connect(ctx, waiter, report, failure);
    if (!conn) {
      co_return std::move(*failure);
    }
  }
  QueryResult result;
  if (auto failure = co_await engine.query(*conn, ctx, waiter, report, result)) {
    co_return std::move(*failure);
  }
  if (!settings.fresh_connection) {
    kept = std::move(conn);
  }
  co_return report.evaluate(settings, result);
}

}  // namespace vigie::probes::db
