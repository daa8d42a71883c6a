// SPDX-License-Identifier: Apache-2.0
#include "tcp/tcp_probe.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <regex>

#include "net/host_port.h"
#include "net/tls_inspect.h"
#include "tcp/query_response.h"
#include "tls/tls_options.h"
#include "util/no_throw.h"
#include "util/timing.h"

namespace vigie::probes {
namespace {

using asio::ip::tcp;
constexpr std::size_t kMaxExpectBytes = 64 * 1024;

struct Settings {
  HostPort target;
  bool prefer_ip6 = true;
  bool fallback = true;
  bool tls = false;
  bool insecure_skip_verify = false;
  tls::ExpiryThresholds expiry;
  std::string server_name;
  std::string send;
  std::string expect_text;
  std::optional<std::regex> expect;
  std::vector<query_response::Step> query_response;
  query_response::StartTls starttls;
};

class TcpProbe final : public Probe {
 public:
  TcpProbe(Settings settings, std::shared_ptr<asio::ssl::context> tls_context)
      : settings_(std::move(settings)), tls_context_(std::move(tls_context)) {}

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;

 private:
  /// Sends and expects on an established stream; nothing when all went well.
  template <typename Stream>
  asio::awaitable<std::optional<ProbeResult>> converse(Stream& stream, ProbeContext& ctx,
                                                       std::vector<Sample>& samples,
                                                       std::vector<std::string>& details) const;

  Settings settings_;
  std::shared_ptr<asio::ssl::context> tls_context_;
};

template <typename Stream>
asio::awaitable<std::optional<ProbeResult>> TcpProbe::converse(
    Stream& stream, ProbeContext& ctx, std::vector<Sample>& samples,
    std::vector<std::string>& details) const {
  if (!settings_.query_response.empty()) {
    co_return co_await query_response::run(stream, settings_.query_response, settings_.starttls,
                                           ctx, samples, details);
  }
  if (!settings_.send.empty()) {
    ctx.phase = "send";
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(settings_.send), kNoThrow);
    if (ec) {
      co_return ProbeResult::critical("send", "sending failed: " + ec.message());
    }
  }
  if (!settings_.expect) {
    co_return std::nullopt;
  }
  ctx.phase = "expect";
  std::string received;
  char chunk[4096];
  while (received.size() < kMaxExpectBytes) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), kNoThrow);
    received.append(chunk, n);
    if (std::regex_search(received, *settings_.expect)) {
      co_return std::nullopt;
    }
    if (ec) {
      co_return ProbeResult::critical("expect", "no match for '" + settings_.expect_text +
                                                    "' before the connection ended (" +
                                                    ec.message() + ")");
    }
  }
  co_return ProbeResult::critical(
      "expect", "no match for '" + settings_.expect_text + "' in the first 64 KiB received");
}

asio::awaitable<ProbeResult> TcpProbe::run(ProbeContext& ctx) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<Sample> samples;
  std::vector<std::string> details;
  auto fail = [&](std::string reason, std::string message) {
    ProbeResult result = ProbeResult::critical(std::move(reason), std::move(message));
    result.samples = std::move(samples);
    result.details = std::move(details);
    return result;
  };

  // Resolve, keeping the preferred family and falling back to the other when allowed.
  ctx.phase = "resolve";
  std::vector<tcp::endpoint> endpoints;
  asio::error_code literal_ec;
  const auto literal = asio::ip::make_address(settings_.target.host, literal_ec);
  if (!literal_ec) {
    endpoints.emplace_back(literal, settings_.target.port);
  } else {
    tcp::resolver resolver(ctx.executor);
    auto [ec, results] = co_await resolver.async_resolve(
        settings_.target.host, std::to_string(settings_.target.port), kNoThrow);
    if (ec) {
      co_return fail("dns", "cannot resolve " + settings_.target.host + ": " + ec.message());
    }
    std::vector<tcp::endpoint> preferred;
    std::vector<tcp::endpoint> other;
    for (const auto& entry : results) {
      (entry.endpoint().address().is_v6() == settings_.prefer_ip6 ? preferred : other)
          .push_back(entry.endpoint());
    }
    endpoints = !preferred.empty() || !settings_.fallback ? preferred : other;
    if (endpoints.empty()) {
      co_return fail("dns", "no " + std::string(settings_.prefer_ip6 ? "IPv6" : "IPv4") +
                                " address for " + settings_.target.host +
                                " (ip_protocol_fallback is off)");
    }
  }
  const double dns_seconds = secondsSince(started);
  samples.push_back({families::dnsLookupTime(), dns_seconds});

  ctx.phase = "connect";
  tcp::socket socket(ctx.executor);
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, kNoThrow);
  const std::string where =
      endpoint.address().is_v6()
          ? "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port())
          : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  if (connect_ec) {
    co_return fail("connect", "connect to " + settings_.target.host + ":" +
                                  std::to_string(settings_.target.port) +
                                  " failed: " + connect_ec.message());
  }
  samples.push_back({families::ipProtocol(), endpoint.address().is_v6() ? 6.0 : 4.0});
  details.push_back("resolved in " + milliseconds(dns_seconds) + ", connected to " + where +
                    " in " + milliseconds(secondsSince(started) - dns_seconds));

  if (!settings_.tls) {
    if (auto failure = co_await converse(socket, ctx, samples, details)) {
      failure->samples = std::move(samples);
      failure->details = std::move(details);
      co_return std::move(*failure);
    }
    ProbeResult ok =
        ProbeResult::ok("connected to " + where + " in " + milliseconds(secondsSince(started)));
    ok.samples = std::move(samples);
    ok.details = std::move(details);
    co_return ok;
  }

  ctx.phase = "tls";
  asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_context_);
  SSL* ssl = stream.native_handle();
  const std::string& name = settings_.server_name;
  std::string verify_error;
  tls::prepareVerification(stream, name, settings_.insecure_skip_verify, verify_error);
  auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (handshake_ec) {
    co_return fail("tls_handshake",
                   "TLS handshake with " + where + " failed: " + handshake_ec.message());
  }
  const PeerCertificates certificates = tls::recordHandshake(ssl, "", samples, details);
  if (!verify_error.empty()) {
    co_return fail("tls_verify", "certificate of " + where + " does not verify for " + name + ": " +
                                     verify_error);
  }
  if (auto failure = co_await converse(stream, ctx, samples, details)) {
    failure->samples = std::move(samples);
    failure->details = std::move(details);
    co_return std::move(*failure);
  }
  if (auto expiring = tls::checkExpiry(settings_.expiry, certificates)) {
    expiring->samples = std::move(samples);
    expiring->details = std::move(details);
    co_return std::move(*expiring);
  }
  ProbeResult ok = ProbeResult::ok("connected to " + where + " with " + tlsVersionName(ssl) +
                                   " in " + milliseconds(secondsSince(started)));
  ok.samples = std::move(samples);
  ok.details = std::move(details);
  co_return ok;
}

class TcpProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "tcp"; }

  const Families& families() const override {
    static const Families declared{families::dnsLookupTime(), families::ipProtocol(),
                                   families::tlsVersionInfo(), families::sslEarliestCertExpiry(),
                                   query_response::failedDueToRegex()};
    return declared;
  }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema = [] {
      ConfigSchema fields{
          {"address", FieldType::String, true, {}, "HOST:PORT to connect to, [v6]:PORT for IPv6"},
          {"ip_protocol",
           FieldType::String,
           false,
           "ip6",
           "Preferred address family when the host has both",
           {"ip4", "ip6"}},
          {"ip_protocol_fallback", FieldType::Bool, false, "true",
           "Use the other family when the preferred one has no address"},
          {"tls", FieldType::Bool, false, "false", "Complete a TLS handshake after connecting"},
      };
      tls::KeySpec keys;
      keys.ca_doc = "CA bundle to verify the server with (default: the system's)";
      keys.cert_doc = "Client certificate (PEM) for mTLS";
      keys.key_doc = "Client key (PEM) for mTLS";
      tls::appendFileKeys(fields, keys);
      fields.push_back({"tls_server_name",
                        FieldType::String,
                        false,
                        {},
                        "Name sent as SNI and verified (default: the address's host)"});
      fields.push_back(tls::insecureKey(keys));
      tls::appendExpirySchema(fields);
      fields.push_back({"send", FieldType::String, false, "", "Bytes to send once connected"});
      fields.push_back({"expect", FieldType::String, false, "",
                        "Regular expression (ECMAScript) the answer must contain"});
      fields.push_back({"query_response",
                        FieldType::Node,
                        false,
                        {},
                        "Steps as blackbox's: expect (PCRE2, per line), send (a line, ${1} from "
                        "the last match), starttls: true"});
      return fields;
    }();
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    Settings settings;
    const auto target = parseHostPort(config.getString("address"));
    if (!target) {
      config.fail("address",
                  "expected HOST:PORT, e.g. \"db.example:5432\" or \"[::1]:443\", "
                  "got '" +
                      config.getString("address") + "'");
    }
    settings.target = *target;
    settings.prefer_ip6 = config.getString("ip_protocol") == "ip6";
    settings.fallback = config.getBool("ip_protocol_fallback");
    settings.tls = config.getBool("tls");
    settings.insecure_skip_verify = config.getBool("tls_insecure_skip_verify");
    settings.server_name =
        config.has("tls_server_name") ? config.getString("tls_server_name") : target->host;
    settings.send = config.getString("send");
    settings.expect_text = config.getString("expect");
    if (!settings.expect_text.empty()) {
      try {
        settings.expect.emplace(settings.expect_text, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        config.fail("expect", std::string("invalid regular expression: ") + e.what());
      }
    }
    if (config.has("query_response")) {
      if (!settings.send.empty() || settings.expect) {
        config.fail("query_response", "use either query_response or send/expect");
      }
      try {
        settings.query_response = query_response::parse(config.getNode("query_response"));
      } catch (const std::invalid_argument& e) {
        config.fail("query_response", e.what());
      }
    }
    const bool starttls =
        std::any_of(settings.query_response.begin(), settings.query_response.end(),
                    [](const query_response::Step& step) { return step.starttls; });
    if (starttls && settings.tls) {
      config.fail("query_response",
                  "starttls steps upgrade a plain connection: not with tls: true");
    }
    if (!settings.tls && !starttls) {
      // tls_insecure_skip_verify: false is harmless without TLS, and common in shared defaults.
      tls::refuseKeys(config,
                      {"tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name",
                       "tls_expiry_warning", "tls_expiry_critical"},
                      "only meaningful with tls: true");
    }
    const tls::Files files = tls::parseFiles(config);
    settings.expiry = tls::parseExpiry(config);
    if ((settings.tls || starttls) && settings.insecure_skip_verify) {
      tls::warnInsecure(config, "tls_insecure_skip_verify", "any certificate is accepted");
    }
    std::shared_ptr<asio::ssl::context> context;
    if (settings.tls || starttls) {
      context = tls::makeClientContext(config, files);
    }
    settings.starttls = {context, settings.server_name, settings.insecure_skip_verify,
                         settings.expiry};
    return std::make_unique<TcpProbe>(std::move(settings), std::move(context));
  }
};

}  // namespace

ProbeFactoryPtr makeTcpProbeFactory() { return std::make_unique<TcpProbeFactory>(); }

}  // namespace vigie::probes
