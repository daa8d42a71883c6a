// SPDX-License-Identifier: Apache-2.0
#include "mysql/mysql_probe.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "db_common/db_common.h"
#include "tls/tls_options.h"
#include "util/no_throw.h"

namespace vigie::probes {
namespace {

using asio::ip::tcp;
// MySQL's "maximum statement execution time exceeded" (max_execution_time).
constexpr unsigned kMysqlExecutionTimeExceeded = 3024;

struct Settings {
  std::string host;
  unsigned port = 3306;
  std::string dbname;
  std::string user;
  std::string password;
  bool tls = false;
  bool verify = true;
  tls::Files files;
  db::CommonSettings common;
};

/// A connection handle. While a non-blocking call is suspended, closing first cancels it so the
/// close never waits on the network.
class Connection {
 public:
  Connection() : mysql_(mysql_init(nullptr)) {}
  ~Connection() {
    if (mysql_ == nullptr) {
      return;
    }
    if (busy_) {
      mariadb_cancel(mysql_);
    }
    mysql_close(mysql_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  MYSQL* get() const { return mysql_; }
  void setBusy(bool busy) { busy_ = busy; }

 private:
  MYSQL* mysql_;
  bool busy_ = false;
};

struct ResultDeleter {
  void operator()(MYSQL_RES* result) const { mysql_free_result(result); }
};
using Result = std::unique_ptr<MYSQL_RES, ResultDeleter>;

std::string reasonFor(unsigned error, bool connecting) {
  switch (error) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
      return "auth";
    case CR_SSL_CONNECTION_ERROR:
      return "tls";
    case ER_STATEMENT_TIMEOUT:
    case kMysqlExecutionTimeExceeded:
      return "timeout";
    case CR_SERVER_LOST:
    case CR_SERVER_GONE_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
      return "connect";
    default:
      return connecting ? "connect" : "query_error";
  }
}

std::string describe(MYSQL* mysql) {
  return std::string(mysql_error(mysql)) + " (error " + std::to_string(mysql_errno(mysql)) + ")";
}

/// Drives one non-blocking call: `status` is what its _start returned, `resume` calls its _cont.
/// Returns an error when the wait was abandoned (cancellation).
template <typename Resume>
asio::awaitable<asio::error_code> drive(db::SocketWaiter& waiter, MYSQL* mysql, int status,
                                        Resume resume) {
  while (status != 0) {
    asio::error_code ec;
    if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE | MYSQL_WAIT_EXCEPT)) {
      ec = co_await waiter.wait(mysql_get_socket(mysql),
                                (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT)) != 0,
                                (status & MYSQL_WAIT_WRITE) != 0);
    } else {  // only a library timeout, which we never configure; honour it anyway
      asio::steady_timer timer(co_await asio::this_coro::executor,
                               std::chrono::milliseconds(mysql_get_timeout_value_ms(mysql)));
      std::tie(ec) = co_await timer.async_wait(kNoThrow);
    }
    if (ec) {
      co_return ec;
    }
    status = resume(status);
  }
  co_return asio::error_code{};
}

class MysqlProbe final : public Probe {
 public:
  explicit MysqlProbe(Settings settings) : settings_(std::move(settings)) {}

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    co_return co_await db::runKeptConnection(*this, kept_, settings_.common, ctx);
  }

  // What db::runKeptConnection drives. A kept connection is reused as it is (the library has no
  // non-blocking liveness check): a dead one fails that run's query and is dropped.
  bool usable(const Connection&) const { return true; }
  asio::awaitable<std::unique_ptr<Connection>> connect(ProbeContext& ctx, db::SocketWaiter& waiter,
                                                       db::RunReport& report,
                                                       std::optional<ProbeResult>& failure) const;
  asio::awaitable<std::optional<ProbeResult>> query(Connection& conn, ProbeContext& ctx,
                                                    db::SocketWaiter& waiter, db::RunReport& report,
                                                    db::QueryResult& result) const;

 private:
  Settings settings_;
  std::unique_ptr<Connection> kept_;
};

asio::awaitable<std::unique_ptr<Connection>> MysqlProbe::connect(
    ProbeContext& ctx, db::SocketWaiter& waiter, db::RunReport& report,
    std::optional<ProbeResult>& failure) const {
  const auto started = std::chrono::steady_clock::now();
  ctx.phase = "connect";
  const bool unix_socket = !settings_.host.empty() && settings_.host[0] == '/';
  // The connector resolves names with a blocking getaddrinfo(); resolve on the loop and pass the
  // address, unless the certificate must be checked against the name.
  std::string address = settings_.host;
  asio::error_code literal_ec;
  if (!unix_socket && (asio::ip::make_address(settings_.host, literal_ec), literal_ec)) {
    tcp::resolver resolver(ctx.executor);
    auto [ec, results] =
        co_await resolver.async_resolve(settings_.host, std::to_string(settings_.port), kNoThrow);
    if (ec || results.empty()) {
      failure = report.fail("connect", "cannot resolve " + settings_.host + ": " + ec.message());
      co_return nullptr;
    }
    if (!(settings_.tls && settings_.verify)) {
      address = results.begin()->endpoint().address().to_string();
    }
  }

  auto conn = std::make_unique<Connection>();
  MYSQL* mysql = conn->get();
  if (mysql == nullptr) {
    failure = report.fail("connect", "out of memory for a MySQL handle");
    co_return nullptr;
  }
  mysql_options(mysql, MYSQL_OPT_NONBLOCK, nullptr);
  // "localhost" would otherwise mean the default Unix socket.
  const unsigned protocol = unix_socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
  mysql_options(mysql, MYSQL_OPT_PROTOCOL, &protocol);
  // Server-side limit on MariaDB (the /*M! */ part is executed by MariaDB only): a query still
  // running at the deadline is stopped by the server too.
  const auto remaining =
      std::chrono::duration<double>(ctx.deadline - std::chrono::steady_clock::now()).count();
  char init_command[96];
  std::snprintf(init_command, sizeof init_command,
                "SET @vigie_probe = 1 /*M!, SESSION max_statement_time = %.3f */",
                std::max(0.001, remaining));
  mysql_options(mysql, MYSQL_INIT_COMMAND, init_command);
  if (settings_.tls) {
    const my_bool enforce = 1;
    const my_bool verify = settings_.verify ? 1 : 0;
    mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &enforce);
    mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    if (!settings_.files.ca_file.empty()) {
      mysql_options(mysql, MYSQL_OPT_SSL_CA, settings_.files.ca_file.c_str());
    }
    if (!settings_.files.cert_file.empty()) {
      mysql_options(mysql, MYSQL_OPT_SSL_CERT, settings_.files.cert_file.c_str());
      mysql_options(mysql, MYSQL_OPT_SSL_KEY, settings_.files.key_file.c_str());
    }
  }
  auto nullable = [](const std::string& text) { return text.empty() ? nullptr : text.c_str(); };
  MYSQL* connected = nullptr;
  conn->setBusy(true);
  const int status = mysql_real_connect_start(
      &connected, mysql, unix_socket ? "localhost" : address.c_str(), settings_.user.c_str(),
      nullable(settings_.password), nullable(settings_.dbname), settings_.port,
      unix_socket ? settings_.host.c_str() : nullptr, 0);
  if (const auto ec = co_await drive(waiter, mysql, status, [&](int wait) {
        return mysql_real_connect_cont(&connected, mysql, wait);
      })) {
    failure = report.fail("timeout", "connection attempt abandoned: " + ec.message());
    co_return nullptr;
  }
  conn->setBusy(false);
  if (connected == nullptr) {
    failure = report.fail(reasonFor(mysql_errno(mysql), true), describe(mysql));
    co_return nullptr;
  }
  const char* cipher = mysql_get_ssl_cipher(mysql);
  report.connected(secondsSince(started),
                   "connected to " + settings_.host + ":" + std::to_string(settings_.port) +
                       (cipher ? " with TLS (" + std::string(cipher) + ")" : ""));
  co_return conn;
}

asio::awaitable<std::optional<ProbeResult>> MysqlProbe::query(Connection& conn, ProbeContext& ctx,
                                                              db::SocketWaiter& waiter,
                                                              db::RunReport& report,
                                                              db::QueryResult& result) const {
  ctx.phase = "query";
  const auto started = std::chrono::steady_clock::now();
  MYSQL* mysql = conn.get();
  const std::string& sql = settings_.common.query;
  int error = 0;
  conn.setBusy(true);
  int status = mysql_real_query_start(&error, mysql, sql.c_str(), sql.size());
  if (const auto ec = co_await drive(waiter, mysql, status, [&](int wait) {
        return mysql_real_query_cont(&error, mysql, wait);
      })) {
    co_return report.fail("timeout", "query abandoned: " + ec.message());
  }
  if (error != 0) {
    conn.setBusy(false);
    co_return report.fail(reasonFor(mysql_errno(mysql), false), describe(mysql));
  }
  MYSQL_RES* stored = nullptr;
  status = mysql_store_result_start(&stored, mysql);
  if (const auto ec = co_await drive(waiter, mysql, status, [&](int wait) {
        return mysql_store_result_cont(&stored, mysql, wait);
      })) {
    co_return report.fail("timeout", "reading the result abandoned: " + ec.message());
  }
  conn.setBusy(false);
  Result rows(stored);
  if (!rows) {
    if (mysql_field_count(mysql) != 0) {
      co_return report.fail(reasonFor(mysql_errno(mysql), false), describe(mysql));
    }
    result.rows = static_cast<std::int64_t>(mysql_affected_rows(mysql));
  } else {
    result.rows = static_cast<std::int64_t>(mysql_num_rows(rows.get()));
    const unsigned columns = mysql_num_fields(rows.get());
    const MYSQL_FIELD* fields = mysql_fetch_fields(rows.get());
    for (unsigned i = 0; i < columns; ++i) {
      result.columns.emplace_back(fields[i].name);
    }
    // Stored results are in memory: fetching does no I/O.
    if (MYSQL_ROW row = mysql_fetch_row(rows.get())) {
      const unsigned long* lengths = mysql_fetch_lengths(rows.get());
      for (unsigned i = 0; i < columns; ++i) {
        result.first_row.push_back(
            row[i] ? std::optional<std::string>(std::in_place, row[i], lengths[i]) : std::nullopt);
      }
    }
  }
  report.queried(secondsSince(started));
  co_return std::nullopt;
}

class MysqlProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "mysql"; }
  const Families& families() const override { return db::families(); }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema = [] {
      ConfigSchema fields{
          {"host",
           FieldType::String,
           true,
           {},
           "Server host name or address, or a Unix socket path starting with /"},
          {"port", FieldType::Int, false, "3306", "TCP port"},
          {"dbname", FieldType::String, false, {}, "Default database"},
          {"user", FieldType::String, true, {}, "Account to log in as"},
          {"password", FieldType::Secret, false, {}, "Password; or password_file"},
          {"tls", FieldType::Bool, false, "false", "Require TLS, verified unless told otherwise"},
      };
      tls::KeySpec keys;
      keys.ca_doc = "CA bundle to verify the server with";
      tls::appendSchema(fields, keys);
      db::appendCommonSchema(fields, "SELECT 1");
      return fields;
    }();
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    // mysql_init() initialises the library on first use, which is not thread-safe; do it once
    // here, on the loop, before any probe (or ODBC driver thread) can.
    static std::once_flag library;
    std::call_once(library, [] { mysql_library_init(0, nullptr, nullptr); });
    Settings settings;
    settings.host = config.getString("host");
    const std::int64_t port = config.getInt("port");
    if (port < 1 || port > 65535) {
      config.fail("port", "must be between 1 and 65535");
    }
    settings.port = static_cast<unsigned>(port);
    settings.user = config.getString("user");
    if (config.has("dbname")) {
      settings.dbname = config.getString("dbname");
    }
    if (config.has("password")) {
      settings.password = config.getString("password");
    }
    settings.tls = config.getBool("tls");
    settings.verify = !config.getBool("tls_insecure_skip_verify");
    if (!settings.tls) {
      tls::refuseKeys(config, {"tls_ca_file", "tls_cert_file", "tls_key_file"},
                      "only meaningful with tls: true");
      if (!settings.verify) {
        config.fail("tls_insecure_skip_verify", "only meaningful with tls: true");
      }
    }
    settings.files = tls::parseFiles(config);
    if (settings.tls && !settings.verify) {
      tls::warnInsecure(config, "tls_insecure_skip_verify", "any certificate is accepted");
    }
    settings.common = db::parseCommon(config);
    return std::make_unique<MysqlProbe>(std::move(settings));
  }
};

}  // namespace

ProbeFactoryPtr makeMysqlProbeFactory() { return std::make_unique<MysqlProbeFactory>(); }

}  // namespace vigie::probes
