// SPDX-License-Identifier: Apache-2.0
#include "odbc/odbc_probe.h"

#include <sql.h>
#include <sqlext.h>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "db_common/db_common.h"
#include "util/no_throw.h"

namespace vigie::probes {
namespace {

/// Blocking ODBC calls run here, never on the loop. Four threads bound what stuck drivers can
/// hold; further runs queue and time out at their own deadline.
constexpr std::size_t kWorkers = 4;
constexpr std::size_t kMaxValueBytes = 64 * 1024;

asio::thread_pool& workers() {
  // Never destroyed: a driver stuck past every timeout must not hold up the agent's exit.
  static auto* pool = new asio::thread_pool(kWorkers);
  return *pool;
}

struct Settings {
  std::string connection_string;  ///< with the credentials; never logged
  db::CommonSettings common;
};

/// One ODBC handle, freed on scope exit.
class Handle {
 public:
  Handle(SQLSMALLINT type, SQLHANDLE parent) : type_(type) {
    if (!SQL_SUCCEEDED(SQLAllocHandle(type, parent, &handle_))) {
      handle_ = SQL_NULL_HANDLE;
    }
  }
  ~Handle() {
    if (handle_ != SQL_NULL_HANDLE) {
      SQLFreeHandle(type_, handle_);
    }
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  SQLHANDLE get() const { return handle_; }
  SQLSMALLINT type() const { return type_; }
  explicit operator bool() const { return handle_ != SQL_NULL_HANDLE; }

 private:
  SQLSMALLINT type_;
  SQLHANDLE handle_ = SQL_NULL_HANDLE;
};

/// An environment and a connection on it; disconnects before freeing.
struct Connection {
  Handle env{SQL_HANDLE_ENV, SQL_NULL_HANDLE};
  std::optional<Handle> dbc;
  bool connected = false;

  ~Connection() {
    if (connected) {
      SQLDisconnect(dbc->get());
    }
    dbc.reset();
  }
};

struct Failure {
  std::string reason;
  std::string message;
};

/// What a worker hands back to the loop.
struct WorkResult {
  std::optional<Failure> failure;
  db::QueryResult result;
  std::optional<double> connect_seconds;
  bool reused_connection = false;
  double query_seconds = 0;
};

/// Diagnostic record `index` (from 1): SQLSTATE and message; nothing past the last record.
std::optional<std::pair<std::string, std::string>> diagnosticRecord(const Handle& handle,
                                                                    SQLSMALLINT index) {
  SQLCHAR state[6] = {};
  SQLCHAR message[1024] = {};
  SQLINTEGER native = 0;
  SQLSMALLINT length = 0;
  if (!SQL_SUCCEEDED(SQLGetDiagRec(handle.type(), handle.get(), index, state, &native, message,
                                   sizeof message, &length))) {
    return std::nullopt;
  }
  std::string text(reinterpret_cast<char*>(message));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return std::pair<std::string, std::string>{reinterpret_cast<char*>(state), text};
}

/// The first diagnostic record: SQLSTATE and message.
std::pair<std::string, std::string> diagnostic(const Handle& handle) {
  return diagnosticRecord(handle, 1).value_or(
      std::pair<std::string, std::string>{"", "no diagnostic from the driver"});
}

/// The driver manager's own error: SQLSTATE IM0xx (no such DSN, no driver...), or unixODBC's
/// "Can't open lib" warning (01000), the only record it leaves when a driver library cannot be
/// loaded. The messages of every record are kept: the loader's reason comes in one of them.
std::optional<std::pair<std::string, std::string>> driverManagerError(const Handle& handle) {
  std::string state;
  std::string messages;
  constexpr SQLSMALLINT kMaxRecords = 8;
  for (SQLSMALLINT index = 1; index <= kMaxRecords; ++index) {
    const auto record = diagnosticRecord(handle, index);
    if (!record) {
      break;
    }
    messages += (messages.empty() ? "" : "; ") + record->second;
    if (state.empty() &&
        (record->first.rfind("IM", 0) == 0 ||
         record->second.find("[Driver Manager]Can't open lib") != std::string::npos)) {
      state = record->first;
    }
  }
  if (state.empty()) {
    return std::nullopt;
  }
  return std::pair<std::string, std::string>{state, messages};
}

bool contains(const std::string& text, std::string_view word) {
  return text.find(word) != std::string::npos;
}

// Drivers disagree on SQLSTATEs for a failed login (28000, 08001 with a message...), so the
// message is read too.
std::string connectReason(const std::string& state, const std::string& message) {
  if (state == "HYT00" || state == "HYT01") {
    return "timeout";
  }
  if (contains(message, "SSL") || contains(message, "TLS") || contains(message, "certificate")) {
    return "tls";
  }
  if (state.rfind("28", 0) == 0 || contains(message, "authentication") ||
      contains(message, "password") || contains(message, "Access denied")) {
    return "auth";
  }
  return "connect";
}

std::string queryReason(const std::string& state) {
  if (state == "HYT00" || state == "HYT01" || state == "57014" || state == "70100") {
    return "timeout";
  }
  if (state.rfind("08", 0) == 0) {
    return "connect";
  }
  return "query_error";
}

std::string withState(const std::pair<std::string, std::string>& diag) {
  return diag.second + (diag.first.empty() ? "" : " (SQLSTATE " + diag.first + ")");
}

std::optional<Failure> connect(Connection& conn, const std::string& connection_string,
                               SQLUINTEGER timeout_seconds) {
  if (!conn.env) {
    return Failure{"connect", "cannot allocate an ODBC environment"};
  }
  SQLSetEnvAttr(conn.env.get(), SQL_ATTR_ODBC_VERSION,
                reinterpret_cast<SQLPOINTER>(static_cast<std::uintptr_t>(SQL_OV_ODBC3)), 0);
  conn.dbc.emplace(SQL_HANDLE_DBC, conn.env.get());
  if (!*conn.dbc) {
    return Failure{"connect", "cannot allocate an ODBC connection"};
  }
  const auto timeout = reinterpret_cast<SQLPOINTER>(static_cast<std::uintptr_t>(timeout_seconds));
  SQLSetConnectAttr(conn.dbc->get(), SQL_ATTR_LOGIN_TIMEOUT, timeout, 0);
  SQLSetConnectAttr(conn.dbc->get(), SQL_ATTR_CONNECTION_TIMEOUT, timeout, 0);
  std::string text = connection_string;
  const SQLRETURN rc = SQLDriverConnect(
      conn.dbc->get(), nullptr, reinterpret_cast<SQLCHAR*>(text.data()),
      static_cast<SQLSMALLINT>(text.size()), nullptr, 0, nullptr, SQL_DRIVER_NOPROMPT);
  if (!SQL_SUCCEEDED(rc)) {
    // A setup mistake on the probe host, not the database: an operator, not the DBA.
    if (const auto setup = driverManagerError(*conn.dbc)) {
      return Failure{"config", withState(*setup)};
    }
    const auto diag = diagnostic(*conn.dbc);
    return Failure{connectReason(diag.first, diag.second), withState(diag)};
  }
  conn.connected = true;
  return std::nullopt;
}

std::optional<Failure> query(Connection& conn, const std::string& sql, SQLUINTEGER timeout_seconds,
                             db::QueryResult& result) {
  Handle stmt(SQL_HANDLE_STMT, conn.dbc->get());
  if (!stmt) {
    const auto diag = diagnostic(*conn.dbc);
    return Failure{queryReason(diag.first), withState(diag)};
  }
  SQLSetStmtAttr(stmt.get(), SQL_ATTR_QUERY_TIMEOUT,
                 reinterpret_cast<SQLPOINTER>(static_cast<std::uintptr_t>(timeout_seconds)), 0);
  std::string text = sql;
  SQLRETURN rc = SQLExecDirect(stmt.get(), reinterpret_cast<SQLCHAR*>(text.data()),
                               static_cast<SQLINTEGER>(text.size()));
  if (!SQL_SUCCEEDED(rc) && rc != SQL_NO_DATA) {
    const auto diag = diagnostic(stmt);
    return Failure{queryReason(diag.first), withState(diag)};
  }
  SQLSMALLINT columns = 0;
  SQLNumResultCols(stmt.get(), &columns);
  if (columns == 0) {
    SQLLEN affected = 0;
    SQLRowCount(stmt.get(), &affected);
    result.rows = affected < 0 ? 0 : affected;
    return std::nullopt;
  }
  for (SQLUSMALLINT i = 1; i <= columns; ++i) {
    SQLCHAR name[256] = {};
    SQLSMALLINT length = 0;
    SQLColAttribute(stmt.get(), i, SQL_DESC_LABEL, name, sizeof name, &length, nullptr);
    result.columns.emplace_back(reinterpret_cast<char*>(name));
  }
  while ((rc = SQLFetch(stmt.get())) != SQL_NO_DATA) {
    if (!SQL_SUCCEEDED(rc)) {
      const auto diag = diagnostic(stmt);
      return Failure{queryReason(diag.first), withState(diag)};
    }
    if (result.rows++ > 0) {
      continue;
    }
    for (SQLUSMALLINT i = 1; i <= columns; ++i) {
      std::string value;
      char chunk[4096];
      SQLLEN indicator = 0;
      bool null = false;
      // Long values come in pieces; keep the first 64 KiB.
      while (value.size() < kMaxValueBytes) {
        rc = SQLGetData(stmt.get(), i, SQL_C_CHAR, chunk, sizeof chunk, &indicator);
        if (rc == SQL_NO_DATA) {
          break;
        }
        if (!SQL_SUCCEEDED(rc)) {
          const auto diag = diagnostic(stmt);
          return Failure{queryReason(diag.first), withState(diag)};
        }
        if (indicator == SQL_NULL_DATA) {
          null = true;
          break;
        }
        value.append(chunk);
        if (rc == SQL_SUCCESS) {
          break;
        }
      }
      result.first_row.push_back(null ? std::nullopt : std::optional<std::string>(value));
    }
  }
  return std::nullopt;
}

/// With fresh_connection: false, the connection kept between runs. A worker takes it only when
/// no abandoned worker still holds it.
struct KeptConnection {
  std::mutex mutex;
  std::unique_ptr<Connection> connection;
};

WorkResult work(const Settings& settings, KeptConnection* kept, SQLUINTEGER timeout_seconds) {
  WorkResult out;
  std::unique_ptr<Connection> conn;
  std::unique_lock<std::mutex> kept_lock;
  if (kept != nullptr) {
    kept_lock = std::unique_lock<std::mutex>(kept->mutex, std::try_to_lock);
    if (kept_lock.owns_lock()) {
      conn = std::move(kept->connection);
      out.reused_connection = conn != nullptr;
    }
  }
  if (!conn) {
    const auto started = std::chrono::steady_clock::now();
    conn = std::make_unique<Connection>();
    if (auto failure = connect(*conn, settings.connection_string, timeout_seconds)) {
      out.failure = std::move(failure);
      return out;
    }
    out.connect_seconds = secondsSince(started);
  }
  const auto started = std::chrono::steady_clock::now();
  out.failure = query(*conn, settings.common.query, timeout_seconds, out.result);
  out.query_seconds = secondsSince(started);
  if (!out.failure && kept_lock.owns_lock()) {
    kept->connection = std::move(conn);
  }
  return out;
}

/// The meeting point of a run on the loop and its worker. Shared, so whichever ends last frees
/// it; the worker's late result is dropped once the run has given up.
struct Job {
  std::mutex mutex;
  bool abandoned = false;
  std::optional<WorkResult> result;
  asio::any_io_executor loop;
  asio::steady_timer* wake = nullptr;  ///< loop thread only
};

class OdbcProbe final : public Probe {
 public:
  explicit OdbcProbe(Settings settings)
      : settings_(std::make_shared<const Settings>(std::move(settings))),
        kept_(settings_->common.fresh_connection ? nullptr : std::make_shared<KeptConnection>()) {}

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    ctx.phase = "connect";
    db::RunReport report;
    const double remaining =
        std::chrono::duration<double>(ctx.deadline - std::chrono::steady_clock::now()).count();
    const auto timeout_seconds = static_cast<SQLUINTEGER>(std::max(1.0, std::ceil(remaining)));

    auto job = std::make_shared<Job>();
    job->loop = ctx.executor;
    asio::steady_timer wake(ctx.executor, asio::steady_timer::time_point::max());
    job->wake = &wake;
    // Runs on every exit, frame destruction included: from here on the worker drops its result.
    struct Abandon {
      std::shared_ptr<Job> job;
      ~Abandon() {
        std::lock_guard lock(job->mutex);
        job->abandoned = true;
        job->wake = nullptr;
      }
    } abandon{job};

    asio::post(workers(), [job, settings = settings_, kept = kept_, timeout_seconds] {
      {
        std::lock_guard lock(job->mutex);
        if (job->abandoned) {  // gave up while queued
          return;
        }
      }
      WorkResult result = work(*settings, kept.get(), timeout_seconds);
      std::lock_guard lock(job->mutex);
      if (job->abandoned) {
        return;
      }
      job->result = std::move(result);
      asio::post(job->loop, [job] {
        if (job->wake != nullptr) {
          job->wake->cancel();
        }
      });
    });

    co_await wake.async_wait(kNoThrow);
    std::optional<WorkResult> result;
    {
      std::lock_guard lock(job->mutex);
      result = std::move(job->result);
    }
    if (!result) {
      co_return report.fail("timeout", "abandoned; the ODBC call goes on in a worker");
    }
    if (result->connect_seconds) {
      report.connected(*result->connect_seconds, "connected");
    } else if (result->reused_connection) {
      report.reusedConnection();
    }
    if (result->failure) {
      co_return report.fail(std::move(result->failure->reason),
                            std::move(result->failure->message));
    }
    ctx.phase = "query";
    report.queried(result->query_seconds);
    co_return report.evaluate(settings_->common, result->result);
  }

 private:
  std::shared_ptr<const Settings> settings_;
  std::shared_ptr<KeptConnection> kept_;
};

// ODBC connection string value: braces protect ';' and '=', a '}' is doubled. Only when
// needed: some drivers (psqlODBC) keep the braces of a UID.
std::string braced(const std::string& value) {
  if (value.find_first_of(";{}= ") == std::string::npos) {
    return value;
  }
  std::string out = "{";
  for (char c : value) {
    out += c;
    if (c == '}') {
      out += '}';
    }
  }
  out += '}';
  return out;
}

class OdbcProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "odbc"; }
  const Families& families() const override { return db::families(); }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema = [] {
      ConfigSchema fields{
          {"dsn", FieldType::String, false, {}, "Data source name from odbc.ini"},
          {"connection_string",
           FieldType::Secret,
           false,
           {},
           "Full ODBC connection string (DRIVER=...;...); or connection_string_file"},
          {"user", FieldType::String, false, {}, "Added as UID"},
          {"password", FieldType::Secret, false, {}, "Added as PWD; or password_file"},
      };
      db::appendCommonSchema(fields, "SELECT 1");
      return fields;
    }();
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    if (config.has("dsn") == config.has("connection_string")) {
      config.fail(config.has("dsn") ? "connection_string" : "dsn",
                  "set exactly one of dsn and connection_string");
    }
    Settings settings;
    settings.connection_string = config.has("dsn") ? "DSN=" + braced(config.getString("dsn"))
                                                   : config.getString("connection_string");
    if (config.has("user")) {
      settings.connection_string += ";UID=" + braced(config.getString("user"));
    }
    if (config.has("password")) {
      settings.connection_string += ";PWD=" + braced(config.getString("password"));
    }
    settings.common = db::parseCommon(config);
    return std::make_unique<OdbcProbe>(std::move(settings));
  }
};

}  // namespace

ProbeFactoryPtr makeOdbcProbeFactory() { return std::make_unique<OdbcProbeFactory>(); }

}  // namespace vigie::probes
