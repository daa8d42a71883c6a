// SPDX-License-Identifier: Apache-2.0
#include "postgres/postgres_probe.h"

#include <libpq-fe.h>

#include <algorithm>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <cctype>
#include <memory>
#include <optional>

#include "db_common/db_common.h"
#include "tls/tls_options.h"
#include "util/no_throw.h"

namespace vigie::probes {
namespace {

using asio::ip::tcp;
// SQLSTATE query_canceled: what statement_timeout raises.
constexpr std::string_view kQueryCanceled = "57014";

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;
struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct Settings {
  std::string host;
  int port = 5432;
  std::string dbname;
  std::string user;
  std::string password;
  std::string sslmode;
  std::string gssencmode;
  tls::Files files;
  db::CommonSettings common;
};

// libpq's messages end with a newline and may span lines; one line reads better in alerts.
std::string oneLine(const char* text) {
  std::string line = text ? text : "";
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
    line.pop_back();
  }
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

bool contains(const std::string& text, std::string_view word) {
  return text.find(word) != std::string::npos;
}

// libpq gives no error code for a failed connection, only its message and the state it was in.
std::string connectFailureReason(const std::string& message, ConnStatusType last_state) {
  if (last_state == CONNECTION_SSL_STARTUP || contains(message, "SSL") ||
      contains(message, "certificate")) {
    return "tls";
  }
  if (contains(message, "authentication") || contains(message, "password") ||
      contains(message, "pg_hba.conf")) {
    return "auth";
  }
  return "connect";
}

class PostgresProbe final : public Probe {
 public:
  explicit PostgresProbe(Settings settings) : settings_(std::move(settings)) {}

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    co_return co_await db::runKeptConnection(*this, kept_, settings_.common, ctx);
  }

  // What db::runKeptConnection drives.
  bool usable(const PGconn& conn) const { return PQstatus(&conn) == CONNECTION_OK; }
  /// A connected handle, or the failure already turned into a result.
  asio::awaitable<PgConn> connect(ProbeContext& ctx, db::SocketWaiter& waiter,
                                  db::RunReport& report, std::optional<ProbeResult>& failure) const;
  asio::awaitable<std::optional<ProbeResult>> query(PGconn& conn, ProbeContext& ctx,
                                                    db::SocketWaiter& waiter, db::RunReport& report,
                                                    db::QueryResult& result) const;

 private:
  Settings settings_;
  /// With fresh_connection: false, the connection kept between runs.
  PgConn kept_;
};

asio::awaitable<PgConn> PostgresProbe::connect(ProbeContext& ctx, db::SocketWaiter& waiter,
                                               db::RunReport& report,
                                               std::optional<ProbeResult>& failure) const {
  const auto started = std::chrono::steady_clock::now();
  ctx.phase = "connect";
  // libpq resolves host names with a blocking getaddrinfo(); resolve on the loop and hand it
  // the address, keeping the name for verify-full and .pgpass.
  std::string host = settings_.host;
  std::string hostaddr;
  std::string port = std::to_string(settings_.port);
  const bool unix_socket = !settings_.host.empty() && settings_.host[0] == '/';
  if (!unix_socket) {
    asio::error_code literal_ec;
    asio::ip::make_address(settings_.host, literal_ec);
    if (literal_ec) {
      tcp::resolver resolver(ctx.executor);
      auto [ec, results] =
          co_await resolver.async_resolve(settings_.host, std::to_string(settings_.port), kNoThrow);
      if (ec || results.empty()) {
        failure = report.fail("connect", "cannot resolve " + settings_.host + ": " + ec.message());
        co_return nullptr;
      }
      // Every address, in the resolver's order: libpq tries them in turn, as it would itself.
      host.clear();
      std::string ports;
      for (const auto& entry : results) {
        const char* separator = hostaddr.empty() ? "" : ",";
        hostaddr.append(separator).append(entry.endpoint().address().to_string());
        host.append(separator).append(settings_.host);
        ports.append(separator).append(port);
      }
      port = ports;
    }
  }
  const auto remaining =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline - started);
  const std::string options =
      "-c statement_timeout=" + std::to_string(std::max<long long>(1, remaining.count()));

  const std::string application_name = "vigie";
  std::vector<const char*> keys;
  std::vector<const char*> values;
  // Keeps pointers into `value`: only long-lived strings, never temporaries.
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) {
      keys.push_back(key);
      values.push_back(value.c_str());
    }
  };
  add("host", host);
  add("hostaddr", hostaddr);
  add("port", port);
  add("dbname", settings_.dbname);
  add("user", settings_.user);
  add("password", settings_.password);
  add("sslmode", settings_.sslmode);
  add("gssencmode", settings_.gssencmode);
  add("sslrootcert", settings_.files.ca_file);
  add("sslcert", settings_.files.cert_file);
  add("sslkey", settings_.files.key_file);
  add("options", options);
  add("application_name", application_name);
  keys.push_back(nullptr);
  values.push_back(nullptr);

  PgConn conn(PQconnectStartParams(keys.data(), values.data(), 0));
  if (!conn) {
    failure = report.fail("connect", "libpq could not allocate a connection");
    co_return nullptr;
  }
  ConnStatusType last_state = PQstatus(conn.get());
  PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
  while (last_state != CONNECTION_BAD && poll != PGRES_POLLING_OK && poll != PGRES_POLLING_FAILED) {
    // The socket may change between steps (e.g. sslmode=prefer retrying without TLS).
    const auto ec = co_await waiter.wait(PQsocket(conn.get()), poll == PGRES_POLLING_READING,
                                         poll == PGRES_POLLING_WRITING);
    if (ec) {
      failure = report.fail("timeout", "connection attempt abandoned: " + ec.message());
      co_return nullptr;
    }
    last_state = PQstatus(conn.get());
    poll = PQconnectPoll(conn.get());
  }
  if (poll != PGRES_POLLING_OK || PQstatus(conn.get()) != CONNECTION_OK) {
    const std::string message = oneLine(PQerrorMessage(conn.get()));
    failure = report.fail(connectFailureReason(message, last_state), message);
    co_return nullptr;
  }
  if (PQsetnonblocking(conn.get(), 1) != 0) {
    failure = report.fail("connect", oneLine(PQerrorMessage(conn.get())));
    co_return nullptr;
  }
  const bool tls = PQsslInUse(conn.get()) != 0;
  const char* tls_version = tls ? PQsslAttribute(conn.get(), "protocol") : nullptr;
  report.connected(secondsSince(started),
                   "connected to " + settings_.host + ":" + std::to_string(settings_.port) +
                       (tls ? " with " + std::string(tls_version ? tls_version : "TLS") : ""));
  co_return conn;
}

asio::awaitable<std::optional<ProbeResult>> PostgresProbe::query(PGconn& connection,
                                                                 ProbeContext& ctx,
                                                                 db::SocketWaiter& waiter,
                                                                 db::RunReport& report,
                                                                 db::QueryResult& result) const {
  PGconn* conn = &connection;
  ctx.phase = "query";
  const auto started = std::chrono::steady_clock::now();
  auto lost = [&]() -> std::optional<ProbeResult> {
    return report.fail("connect", "connection lost: " + oneLine(PQerrorMessage(conn)));
  };
  if (PQsendQuery(conn, settings_.common.query.c_str()) == 0) {
    co_return PQstatus(conn) == CONNECTION_BAD
        ? lost()
        : report.fail("query_error", oneLine(PQerrorMessage(conn)));
  }
  for (int flushed = PQflush(conn); flushed != 0; flushed = PQflush(conn)) {
    if (flushed < 0) {
      co_return lost();
    }
    if (const auto ec = co_await waiter.wait(PQsocket(conn), false, true)) {
      co_return report.fail("timeout", "query abandoned: " + ec.message());
    }
  }
  std::optional<ProbeResult> error;
  for (;;) {
    while (PQisBusy(conn)) {
      if (const auto ec = co_await waiter.wait(PQsocket(conn), true, false)) {
        co_return report.fail("timeout", "query abandoned: " + ec.message());
      }
      if (PQconsumeInput(conn) == 0) {
        co_return lost();
      }
    }
    PgResult res(PQgetResult(conn));
    if (!res) {
      break;
    }
    switch (PQresultStatus(res.get())) {
      case PGRES_TUPLES_OK: {
        result = {};
        result.rows = PQntuples(res.get());
        const int columns = PQnfields(res.get());
        for (int i = 0; i < columns; ++i) {
          result.columns.emplace_back(PQfname(res.get(), i));
          if (result.rows > 0) {
            result.first_row.push_back(
                PQgetisnull(res.get(), 0, i)
                    ? std::nullopt
                    : std::optional<std::string>(PQgetvalue(res.get(), 0, i)));
          }
        }
        break;
      }
      case PGRES_COMMAND_OK: {
        result = {};
        const std::string affected = PQcmdTuples(res.get());
        result.rows = affected.empty() ? 0 : std::stoll(affected);
        break;
      }
      case PGRES_EMPTY_QUERY:
        break;
      default:
        if (!error) {
          const char* state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
          const std::string message = oneLine(PQresultErrorMessage(res.get()));
          if (PQstatus(conn) == CONNECTION_BAD) {
            error = report.fail("connect", "connection lost: " + message);
          } else {
            error =
                report.fail(state && state == kQueryCanceled ? "timeout" : "query_error", message);
          }
        }
        break;
    }
    // A broken connection may keep returning error results; stop reading it.
    if (PQstatus(conn) == CONNECTION_BAD) {
      break;
    }
  }
  if (error) {
    co_return error;
  }
  if (PQstatus(conn) == CONNECTION_BAD) {
    co_return lost();
  }
  report.queried(secondsSince(started));
  co_return std::nullopt;
}

class PostgresProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "postgres"; }
  const Families& families() const override { return db::families(); }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema = [] {
      ConfigSchema fields{
          {"host",
           FieldType::String,
           true,
           {},
           "Server host name or address, or a Unix socket folder starting with /"},
          {"port", FieldType::Int, false, "5432", "TCP port"},
          {"dbname", FieldType::String, false, {}, "Database (default: the user name)"},
          {"user", FieldType::String, true, {}, "Role to log in as"},
          {"password", FieldType::Secret, false, {}, "Password; or password_file"},
          {"sslmode",
           FieldType::String,
           false,
           "prefer",
           "libpq's sslmode",
           {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
          // libpq's own default, prefer, looks for a Kerberos ticket on every connection: a
          // third of a probe's CPU for a service account that has none.
          {"gssencmode",
           FieldType::String,
           false,
           "disable",
           "libpq's gssencmode: GSSAPI (Kerberos) encryption",
           {"disable", "prefer", "require"}},
      };
      tls::KeySpec keys;
      keys.ca_doc = "CA bundle for verify-ca and verify-full (libpq's sslrootcert)";
      keys.insecure_key.clear();  // sslmode says how much is verified
      tls::appendSchema(fields, keys);
      db::appendCommonSchema(fields, "SELECT 1");
      return fields;
    }();
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    Settings settings;
    settings.host = config.getString("host");
    const std::int64_t port = config.getInt("port");
    if (port < 1 || port > 65535) {
      config.fail("port", "must be between 1 and 65535");
    }
    settings.port = static_cast<int>(port);
    settings.user = config.getString("user");
    if (config.has("dbname")) {
      settings.dbname = config.getString("dbname");
    }
    if (config.has("password")) {
      settings.password = config.getString("password");
    }
    settings.sslmode = config.getString("sslmode");
    settings.gssencmode = config.getString("gssencmode");
    settings.files = tls::parseFiles(config);
    if (settings.sslmode == "disable") {
      tls::refuseKeys(config, {"tls_ca_file", "tls_cert_file", "tls_key_file"},
                      "not used with sslmode: disable");
    }
    if (settings.sslmode.rfind("verify-", 0) == 0 && settings.files.ca_file.empty()) {
      // libpq 15 would look in ~/.postgresql/root.crt, a surprise under a service account.
      config.fail("sslmode", settings.sslmode + " needs tls_ca_file");
    }
    settings.common = db::parseCommon(config);
    return std::make_unique<PostgresProbe>(std::move(settings));
  }
};

}  // namespace

ProbeFactoryPtr makePostgresProbeFactory() { return std::make_unique<PostgresProbeFactory>(); }

}  // namespace vigie::probes
