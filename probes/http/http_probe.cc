// SPDX-License-Identifier: Apache-2.0
#include "http/http_probe.h"

#include <curl/curl.h>

#include <algorithm>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/address.hpp>
#include <asio/use_awaitable.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>

#include "http/curl_transfer.h"
#include "http/http_checks.h"
#include "net/curl_multi.h"
#include "tls/tls_options.h"
#include "util/timing.h"
#include "util/utf8.h"
#include "vigie/version.h"

namespace vigie::probes {
namespace {

using namespace asio::experimental::awaitable_operators;

enum class IpMode { Any, V4, V6, Both };

struct Settings {
  std::string url;
  std::string method;
  std::optional<std::string> body;
  StatusCodeSet valid_status = StatusCodeSet::successOnly();
  std::vector<std::string> valid_http_versions;
  std::vector<Regex> fail_if_body_matches;
  std::vector<Regex> fail_if_body_not_matches;
  std::vector<HeaderCheck> fail_if_header_matches;
  std::vector<HeaderCheck> fail_if_header_not_matches;
  std::vector<JsonAssertion> json;
  bool follow_redirects = true;
  long max_redirects = 10;
  std::string username;
  std::string password;
  std::string bearer_token;
  tls::Files tls;
  bool insecure_skip_verify = false;
  tls::ExpiryThresholds tls_expiry;
  std::string proxy_url;
  std::string no_proxy;
  IpMode ip_mode = IpMode::Any;
  std::string resolve_entry;  ///< "host:port:address" for CURLOPT_RESOLVE
  curl_off_t max_body_bytes = 10 * 1024 * 1024;
  bool compression = true;
  bool reuse_connections = false;

  bool keepsBody() const {
    return !fail_if_body_matches.empty() || !fail_if_body_not_matches.empty() || !json.empty();
  }
  bool keepsHeaders() const {
    return !fail_if_header_matches.empty() || !fail_if_header_not_matches.empty();
  }
};

/// Bytes of a failing answer's body kept for the console ("excerpt: " detail line).
constexpr std::size_t kExcerptBytes = 2048;

/// The start of a failing answer for people: valid UTF-8 without control characters, the
/// probe's own secrets (password, bearer token, request body) masked. Headers are never part
/// of it, so Set-Cookie and Authorization cannot leak through it.
std::string excerptOf(const std::string& head, const Settings& settings) {
  std::string text = sanitizeText(head, kExcerptBytes);
  for (const std::string* secret :
       {&settings.password, &settings.bearer_token,
        settings.body ? &*settings.body : static_cast<const std::string*>(nullptr)}) {
    if (secret == nullptr || secret->size() < 4) {
      continue;
    }
    for (std::size_t at = text.find(*secret); at != std::string::npos;
         at = text.find(*secret, at + 3)) {
      text.replace(at, secret->size(), "***");
    }
  }
  return text;
}

/// State of one transfer, alive until it completes.
struct Transfer {
  explicit Transfer(const Settings& s) : settings(s) {}

  const Settings& settings;
  std::string body;
  /// The answer's first kExcerptBytes, whatever the checks keep: the excerpt of a failure.
  std::string head;
  curl_off_t body_bytes = 0;
  bool too_large = false;
  std::vector<std::pair<std::string, std::string>> headers;  ///< last response, names lowered
  std::vector<std::string> hops;                             ///< "HTTP/1.1 302 Found -> URL"
  TlsCapture tls;
  char error[CURL_ERROR_SIZE] = {};
};

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  transfer->body_bytes += static_cast<curl_off_t>(bytes);
  if (transfer->body_bytes > transfer->settings.max_body_bytes) {
    transfer->too_large = true;
    return 0;  // stops the transfer: memory stays bounded whatever the server sends
  }
  if (transfer->settings.keepsBody()) {
    transfer->body.append(data, bytes);
  }
  if (transfer->head.size() < kExcerptBytes) {
    transfer->head.append(data, std::min(bytes, kExcerptBytes - transfer->head.size()));
  }
  return bytes;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  return std::string(text);
}

std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response: a redirect hop or the final one
    transfer->headers.clear();
    transfer->hops.push_back(trimmed(line));
    return bytes;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return bytes;
  }
  std::string name(line.substr(0, colon));
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string value = trimmed(line.substr(colon + 1));
  if (name == "location" && !transfer->hops.empty()) {
    transfer->hops.back() += " -> " + value;
  }
  if (transfer->settings.keepsHeaders()) {
    transfer->headers.emplace_back(std::move(name), std::move(value));
  }
  return bytes;
}

double infoSeconds(CURL* easy, CURLINFO info) {
  curl_off_t micros = 0;
  curl_easy_getinfo(easy, info, &micros);
  return static_cast<double>(micros) / 1e6;
}

std::string versionName(long version) {
  switch (version) {
    case CURL_HTTP_VERSION_1_0:
      return "HTTP/1.0";
    case CURL_HTTP_VERSION_1_1:
      return "HTTP/1.1";
    case CURL_HTTP_VERSION_2_0:
      return "HTTP/2.0";
    case CURL_HTTP_VERSION_3:
      return "HTTP/3.0";
    default:
      return "";
  }
}

struct HttpFamilies {
  FamilyHandle duration =
      declareFamily("probe_http_duration_seconds",
                    "Duration of http request by phase, summed over all redirects");
  FamilyHandle status_code = declareFamily("probe_http_status_code", "Response HTTP status code");
  FamilyHandle content_length =
      declareFamily("probe_http_content_length", "Length of http content response");
  FamilyHandle body_length =
      declareFamily("probe_http_uncompressed_body_length", "Length of uncompressed response body");
  FamilyHandle redirects = declareFamily("probe_http_redirects", "The number of redirects");
  FamilyHandle ssl =
      declareFamily("probe_http_ssl", "Indicates if SSL was used for the final redirect");
  FamilyHandle version =
      declareFamily("probe_http_version", "Returns the version of HTTP of the probe response");
  FamilyHandle last_modified =
      declareFamily("probe_http_last_modified_timestamp_seconds",
                    "Returns the Last-Modified HTTP response header in unixtime");
  FamilyHandle failed_due_to_regex =
      declareFamily("probe_failed_due_to_regex", "Indicates if probe failed due to regex");

  Families all() const {
    return {duration,
            status_code,
            content_length,
            body_length,
            redirects,
            ssl,
            version,
            last_modified,
            failed_due_to_regex,
            families::dnsLookupTime(),
            families::ipProtocol(),
            families::tlsVersionInfo(),
            families::sslEarliestCertExpiry(),
            families::sslLastChainExpiry()};
  }
};

const HttpFamilies& httpFamilies() {
  static const HttpFamilies declared;
  return declared;
}

class HttpProbe final : public Probe {
 public:
  HttpProbe(Settings settings, Slist headers, Slist resolve)
      : settings_(std::move(settings)),
        headers_(std::move(headers)),
        resolve_(std::move(resolve)) {}

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;

 private:
  void prepare(CURL* e, Transfer& transfer, long ip_resolve, long timeout_ms) const;
  asio::awaitable<ProbeResult> once(ProbeContext& ctx, long ip_resolve) const;
  ProbeResult evaluate(CURL* easy, CURLcode code, Transfer& transfer) const;

  Settings settings_;
  Slist headers_;
  Slist resolve_;
};

void HttpProbe::prepare(CURL* e, Transfer& transfer, long ip_resolve, long timeout_ms) const {
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_URL, settings_.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, transfer.error);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_IPRESOLVE, ip_resolve);
  curl_easy_setopt(e, CURLOPT_USERAGENT, (std::string("vigie-agent/") + kVersion).c_str());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_FILETIME, 1L);
  if (settings_.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (settings_.method != "GET" || settings_.body) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, settings_.method.c_str());
  }
  if (settings_.body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, settings_.body->data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(settings_.body->size()));
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_.get());
  curl_easy_setopt(e, CURLOPT_RESOLVE, resolve_.get());
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, settings_.follow_redirects ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, settings_.max_redirects);
  // An in-memory cookie jar for this run only: SSO bounces (Shibboleth, CAS) set a cookie on
  // one hop and expect it on the next.
  curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");
  if (settings_.compression) {
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  }
  if (!settings_.reuse_connections) {
    // Each run measures what a first visit costs: new DNS lookup, connection and handshake.
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
  }
  setTlsOptions(e, settings_.tls, settings_.insecure_skip_verify, &transfer.tls);
  if (!settings_.username.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, settings_.username.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, settings_.password.c_str());
  } else if (!settings_.bearer_token.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, settings_.bearer_token.c_str());
  }
  // Explicit, so the agent's environment (http_proxy...) never changes what a probe measures.
  curl_easy_setopt(e, CURLOPT_PROXY, settings_.proxy_url.c_str());
  if (!settings_.no_proxy.empty()) {
    curl_easy_setopt(e, CURLOPT_NOPROXY, settings_.no_proxy.c_str());
  }
}

/// What curl measured of one transfer, read once after it ended.
struct CurlInfo {
  long status = 0;
  std::string version;  ///< "HTTP/1.1"; empty when no response came
  long redirects = 0;
  curl_off_t content_length = -1;
  curl_off_t last_modified = -1;
  bool ssl = false;  ///< the final URL is https
  std::string address;
  long port = 0;
  // Phases, as curl adds each hop's together (blackbox sums its phases across redirects too).
  double resolve = 0;
  double connect = 0;
  double tls = 0;
  double processing = 0;
  double transfer = 0;
  double total = 0;

  static CurlInfo read(CURL* easy);
};

CurlInfo CurlInfo::read(CURL* easy) {
  CurlInfo info;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &info.status);
  long version = 0;
  curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
  info.version = versionName(version);
  curl_easy_getinfo(easy, CURLINFO_REDIRECT_COUNT, &info.redirects);
  curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &info.content_length);
  curl_easy_getinfo(easy, CURLINFO_FILETIME_T, &info.last_modified);
  const char* effective_url = nullptr;
  curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &effective_url);
  info.ssl = effective_url != nullptr && std::string_view(effective_url).rfind("https:", 0) == 0;
  const char* primary_ip = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &primary_ip);
  info.address = primary_ip == nullptr ? "" : primary_ip;
  curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &info.port);

  info.resolve = infoSeconds(easy, CURLINFO_NAMELOOKUP_TIME_T);
  const double connected = infoSeconds(easy, CURLINFO_CONNECT_TIME_T);
  const double tls_done = infoSeconds(easy, CURLINFO_APPCONNECT_TIME_T);
  const double pretransfer = infoSeconds(easy, CURLINFO_PRETRANSFER_TIME_T);
  const double first_byte = infoSeconds(easy, CURLINFO_STARTTRANSFER_TIME_T);
  info.total = infoSeconds(easy, CURLINFO_TOTAL_TIME_T);
  info.connect = connected > info.resolve ? connected - info.resolve : 0;
  info.tls = tls_done > connected ? tls_done - connected : 0;
  info.processing = first_byte > pretransfer ? first_byte - pretransfer : 0;
  info.transfer = first_byte > 0 && info.total > first_byte ? info.total - first_byte : 0;
  return info;
}

/// The samples and `--probe` details of one transfer, whatever its outcome.
void describe(const CurlInfo& info, const Transfer& transfer, std::vector<Sample>& samples,
              std::vector<std::string>& details) {
  const HttpFamilies& f = httpFamilies();
  auto gauge = [&samples](const FamilyHandle& family, double value, Labels labels = {}) {
    samples.push_back({family, value, std::move(labels)});
  };
  gauge(f.duration, info.resolve, {{"phase", "resolve"}});
  gauge(f.duration, info.connect, {{"phase", "connect"}});
  gauge(f.duration, info.tls, {{"phase", "tls"}});
  gauge(f.duration, info.processing, {{"phase", "processing"}});
  gauge(f.duration, info.transfer, {{"phase", "transfer"}});
  gauge(families::dnsLookupTime(), info.resolve);
  gauge(f.status_code, static_cast<double>(info.status));
  gauge(f.content_length, static_cast<double>(info.content_length));
  gauge(f.body_length, static_cast<double>(transfer.body_bytes));
  gauge(f.redirects, static_cast<double>(info.redirects));
  gauge(f.ssl, info.ssl ? 1 : 0);
  if (!info.version.empty()) {
    gauge(f.version, std::stod(info.version.substr(5)));
  }
  if (info.last_modified >= 0) {
    gauge(f.last_modified, static_cast<double>(info.last_modified));
  }
  if (!info.address.empty()) {
    const bool v6 = info.address.find(':') != std::string::npos;
    gauge(families::ipProtocol(), v6 ? 6 : 4);
    details.push_back("connected to " + (v6 ? "[" + info.address + "]" : info.address) + ":" +
                      std::to_string(info.port));
  }
  details.push_back("phases: resolve " + milliseconds(info.resolve) + ", connect " +
                    milliseconds(info.connect) + ", tls " + milliseconds(info.tls) +
                    ", processing " + milliseconds(info.processing) + ", transfer " +
                    milliseconds(info.transfer));
  describeTls(transfer.tls, samples, details);
  for (std::size_t i = 0; i < transfer.hops.size(); ++i) {
    details.push_back("response " + std::to_string(i + 1) + ": " + transfer.hops[i]);
  }
}

/// Why the transfer itself failed (too large, curl error), if it did.
std::optional<ProbeResult> transferFailure(CURLcode code, const Transfer& transfer) {
  if (transfer.too_large) {
    return ProbeResult::critical("too_large", "body larger than max_body_bytes (" +
                                                  std::to_string(transfer.settings.max_body_bytes) +
                                                  " bytes)");
  }
  if (code != CURLE_OK) {
    return ProbeResult::critical(curlFailureReason(code),
                                 curlFailureMessage(code, transfer.error, transfer.tls));
  }
  return std::nullopt;
}

/// The first header or body regex that fails, if any.
std::optional<ProbeResult> regexFailure(const Settings& settings, const Transfer& transfer) {
  return firstRegexFailure(settings.fail_if_header_matches, settings.fail_if_header_not_matches,
                           settings.fail_if_body_matches, settings.fail_if_body_not_matches,
                           transfer.headers, transfer.body);
}

ProbeResult HttpProbe::evaluate(CURL* easy, CURLcode code, Transfer& transfer) const {
  const CurlInfo info = CurlInfo::read(easy);
  std::vector<Sample> samples;
  std::vector<std::string> details;
  describe(info, transfer, samples, details);
  bool failed_due_to_regex = false;
  ProbeResult result = [&] {
    if (auto failure = transferFailure(code, transfer)) {
      return std::move(*failure);
    }
    const std::string status_text = "HTTP " + std::to_string(info.status);
    if (!settings_.valid_status.contains(info.status)) {
      // A health endpoint (Spring Boot's) answers 503 with the JSON that says which part is
      // down: the reason stays the status, the message names what the assertions found.
      std::string message = status_text + " is not a valid status";
      if (!settings_.json.empty()) {
        const auto failure = checkJson(transfer.body, settings_.json);
        message += "; " + failure.value_or("the JSON assertions hold");
      }
      return ProbeResult::critical("http_status", message);
    }
    const auto& versions = settings_.valid_http_versions;
    if (!versions.empty() &&
        std::find(versions.begin(), versions.end(), info.version) == versions.end()) {
      return ProbeResult::critical("http_version",
                                   info.version + " is not among valid_http_versions");
    }
    if (auto failure = regexFailure(settings_, transfer)) {
      failed_due_to_regex = true;
      return std::move(*failure);
    }
    if (!settings_.json.empty()) {
      if (auto failure = checkJson(transfer.body, settings_.json)) {
        return ProbeResult::critical("json_assertion", *failure);
      }
    }
    if (transfer.tls.seen) {
      if (auto expiring = tls::checkExpiry(settings_.tls_expiry, transfer.tls.peer)) {
        return std::move(*expiring);
      }
    }
    return ProbeResult::ok(
        status_text + " (" + info.version + ") in " + milliseconds(info.total) +
        (info.redirects > 0 ? " after " + std::to_string(info.redirects) + " redirect(s)" : ""));
  }();
  samples.push_back({httpFamilies().failed_due_to_regex, failed_due_to_regex ? 1.0 : 0.0});
  if (result.status != Status::Ok && !transfer.head.empty()) {
    details.push_back("excerpt: " + excerptOf(transfer.head, settings_));
  }
  result.samples = std::move(samples);
  result.details = std::move(details);
  return result;
}

asio::awaitable<ProbeResult> HttpProbe::once(ProbeContext& ctx, long ip_resolve) const {
  // curl's own timeout fires just before the runner's deadline, so a slow server still yields
  // the timings and certificate data gathered so far.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      ctx.deadline - std::chrono::steady_clock::now());
  const long timeout_ms = std::max<long>(1, static_cast<long>(left.count()) - 20);
  Transfer transfer(settings_);
  CurlMulti& curl = CurlMulti::of(ctx.executor);
  // Declared after the transfer, so it goes back to the pool before the buffers it points to go.
  CurlMulti::Easy easy = curl.easyHandle();
  prepare(easy.get(), transfer, ip_resolve, timeout_ms);
  const CURLcode code = co_await curl.perform(easy.get(), asio::use_awaitable);
  co_return evaluate(easy.get(), code, transfer);
}

asio::awaitable<ProbeResult> HttpProbe::run(ProbeContext& ctx) {
  ctx.phase = "http";
  switch (settings_.ip_mode) {
    case IpMode::Any:
      co_return co_await once(ctx, CURL_IPRESOLVE_WHATEVER);
    case IpMode::V4:
      co_return co_await once(ctx, CURL_IPRESOLVE_V4);
    case IpMode::V6:
      co_return co_await once(ctx, CURL_IPRESOLVE_V6);
    case IpMode::Both:
      break;
  }
  // Both families at once; the probe succeeds only when both do, and every sample says which
  // family it measured.
  auto [v4, v6] = co_await (once(ctx, CURL_IPRESOLVE_V4) && once(ctx, CURL_IPRESOLVE_V6));
  // The worse of the two (a CRITICAL over a WARNING) gives the status and the reason.
  auto severity = [](Status status) {
    return status == Status::Critical  ? 3
           : status == Status::Unknown ? 2
           : status == Status::Warning ? 1
                                       : 0;
  };
  const ProbeResult& worse = severity(v6.status) > severity(v4.status) ? v6 : v4;
  ProbeResult merged{worse.status, worse.reason, "", {}, {}};
  merged.message = "IPv4: " + v4.message + "; IPv6: " + v6.message;
  for (auto [family, result] : {std::pair{"4", &v4}, std::pair{"6", &v6}}) {
    for (Sample& sample : result->samples) {
      sample.labels.emplace_back("ip_protocol", family);
      merged.samples.push_back(std::move(sample));
    }
    for (std::string& line : result->details) {
      merged.details.push_back(std::string("IPv") + family + " " + line);
    }
  }
  co_return merged;
}

/// Splits a URL into host and port with curl's own parser, so config checks agree with curl.
struct UrlParts {
  std::string scheme;
  std::string host;
  std::string port;
};

std::optional<UrlParts> parseUrl(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  UrlParts parts;
  for (auto [part, out] :
       {std::pair{CURLUPART_SCHEME, &parts.scheme}, std::pair{CURLUPART_HOST, &parts.host}}) {
    char* text = nullptr;
    if (curl_url_get(handle.get(), part, &text, 0) != CURLUE_OK) {
      return std::nullopt;
    }
    *out = text;
    curl_free(text);
  }
  char* port = nullptr;
  if (curl_url_get(handle.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
    parts.port = port;
    curl_free(port);
  }
  if (parts.scheme != "http" && parts.scheme != "https") {
    return std::nullopt;
  }
  return parts;
}

class HttpProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "http"; }

  const Families& families() const override {
    static const Families declared = httpFamilies().all();
    return declared;
  }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema = [] {
      ConfigSchema fields{
          {"url", FieldType::String, true, {}, "http:// or https:// URL to request"},
          {"method", FieldType::String, false, "GET", "HTTP method"},
          {"headers", FieldType::StringMap, false, {}, "Request headers; values expand ${ENV}"},
          {"body", FieldType::Secret, false, {}, "Request body (or body_file)"},
          {"valid_status_codes",
           FieldType::Node,
           false,
           {},
           "Accepted codes and ranges, e.g. [200, \"300-399\"] (default 200-299)"},
          {"valid_http_versions",
           FieldType::StringList,
           false,
           {},
           "Accepted versions: HTTP/1.0, HTTP/1.1, HTTP/2.0 (default any)"},
          {"fail_if_body_matches", FieldType::StringList, false, {}, "PCRE2 regexes"},
          {"fail_if_body_not_matches", FieldType::StringList, false, {}, "PCRE2 regexes"},
          {"fail_if_header_matches",
           FieldType::Node,
           false,
           {},
           "List of {header, regexp, allow_missing}"},
          {"fail_if_header_not_matches",
           FieldType::Node,
           false,
           {},
           "List of {header, regexp, allow_missing}"},
          {"json",
           FieldType::Node,
           false,
           {},
           "List of {path, equals|matches|less_than|greater_than}"},
          {"follow_redirects", FieldType::Bool, false, "true", "Follow 3xx Location"},
          {"max_redirects", FieldType::Int, false, "10", "Redirects followed at most"},
          {"basic_auth_username", FieldType::String, false, {}, "Basic authentication user"},
          {"basic_auth_password", FieldType::Secret, false, {}, "Basic authentication password"},
          {"bearer_token", FieldType::Secret, false, {}, "Authorization: Bearer token"},
          {"proxy_url", FieldType::String, false, {}, "Proxy URL (default: none, env ignored)"},
          {"no_proxy", FieldType::String, false, {}, "Comma-separated hosts not proxied"},
          {"ip_protocol",
           FieldType::String,
           false,
           "auto",
           "Address family: auto, ip4, ip6, or both (each probed and labelled)",
           {"auto", "ip4", "ip6", "both"}},
          {"resolve",
           FieldType::String,
           false,
           {},
           "IP address to connect to instead of resolving the URL's host (Host and SNI kept)"},
          {"max_body_bytes", FieldType::Int, false, "10485760",
           "Larger bodies fail with reason too_large"},
          {"compression", FieldType::Bool, false, "true", "Accept gzip, deflate, br, zstd"},
          {"reuse_connections", FieldType::Bool, false, "false",
           "Keep connections between runs (default: a fresh connection each run)"},
      };
      tls::KeySpec keys;
      keys.ca_doc = "CA bundle (default: the system's)";
      keys.cert_doc = "Client certificate (PEM) for mTLS";
      keys.key_doc = "Client key (PEM) for mTLS";
      keys.insecure_key = "insecure_skip_verify";
      keys.insecure_doc =
          "Accept any certificate and host name. Logged loudly; never for production";
      ConfigSchema tls_keys;
      tls::appendSchema(tls_keys, keys);
      tls::appendExpirySchema(tls_keys);
      // Before the proxy keys, where they always were: the order of "allowed:" in errors.
      const auto proxy = std::find_if(fields.begin(), fields.end(), [](const FieldSpec& field) {
        return field.key == "proxy_url";
      });
      fields.insert(proxy, tls_keys.begin(), tls_keys.end());
      return fields;
    }();
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    Settings s;
    s.url = config.getString("url");
    const auto url = parseUrl(s.url);
    if (!url) {
      config.fail("url", "expected an http:// or https:// URL, got '" + s.url + "'");
    }
    std::vector<std::string> header_lines = parseRequest(config, s);
    parseChecks(config, s);
    parseAuthentication(config, s);
    parseTls(config, s);
    std::vector<std::string> resolve_lines = parseConnection(config, *url, s);
    return std::make_unique<HttpProbe>(std::move(s), makeSlist(header_lines),
                                       makeSlist(resolve_lines));
  }

 private:
  /// Method, body and headers; returns the header lines for curl.
  static std::vector<std::string> parseRequest(const ProbeConfig& config, Settings& s) {
    s.method = config.getString("method");
    if (s.method.empty() ||
        !std::all_of(s.method.begin(), s.method.end(), [](char c) { return std::isupper(c); })) {
      config.fail("method",
                  "expected an upper-case HTTP method such as GET, got '" + s.method + "'");
    }
    if (config.has("body")) {
      s.body = config.getString("body");
    }
    std::vector<std::string> header_lines;
    if (config.has("headers")) {
      for (const auto& [name, value] : config.getStringMap("headers")) {
        // "Name;" is curl's way to send a header with an empty value.
        header_lines.push_back(value.empty() ? name + ";" : name + ": " + value);
      }
    }
    return header_lines;
  }

  /// What the response must satisfy: status, version, regexes, JSON assertions.
  static void parseChecks(const ProbeConfig& config, Settings& s) {
    auto node = [&config](const std::string& key, auto parse) {
      try {
        return parse(config.getNode(key));
      } catch (const std::invalid_argument& e) {
        config.fail(key, e.what());
      }
    };
    if (config.has("valid_status_codes")) {
      s.valid_status = node("valid_status_codes", &StatusCodeSet::parse);
    }
    if (config.has("valid_http_versions")) {
      s.valid_http_versions = config.getStringList("valid_http_versions");
      for (const std::string& version : s.valid_http_versions) {
        if (version != "HTTP/1.0" && version != "HTTP/1.1" && version != "HTTP/2.0" &&
            version != "HTTP/3.0") {
          config.fail("valid_http_versions",
                      "unknown version '" + version + "' (HTTP/1.0, HTTP/1.1, HTTP/2.0, HTTP/3.0)");
        }
      }
    }
    for (auto [key, out] : {std::pair{"fail_if_body_matches", &s.fail_if_body_matches},
                            std::pair{"fail_if_body_not_matches", &s.fail_if_body_not_matches}}) {
      if (config.has(key)) {
        for (const std::string& pattern : config.getStringList(key)) {
          try {
            out->emplace_back(pattern);
          } catch (const std::invalid_argument& e) {
            config.fail(key, e.what());
          }
        }
      }
    }
    if (config.has("fail_if_header_matches")) {
      s.fail_if_header_matches = node("fail_if_header_matches", &parseHeaderChecks);
    }
    if (config.has("fail_if_header_not_matches")) {
      s.fail_if_header_not_matches = node("fail_if_header_not_matches", &parseHeaderChecks);
    }
    if (config.has("json")) {
      s.json = node("json", [&config](const ConfigNode& list) {
        if (!list.isSequence() || list.size() == 0) {
          throw std::invalid_argument("expected a list of {path, equals|matches|...}");
        }
        std::vector<JsonAssertion> assertions;
        // Every bad assertion of the list is reported, not only the first.
        std::vector<ConfigIssue> issues;
        for (std::size_t i = 0; i < list.size(); ++i) {
          try {
            assertions.push_back(JsonAssertion::parse(list.items()[i]));
          } catch (const std::invalid_argument& e) {
            issues.push_back({config.locationOf("json"), config.keyPath("json"),
                              "[" + std::to_string(i) + "]: " + e.what()});
          }
        }
        if (!issues.empty()) {
          throw ConfigError(std::move(issues));
        }
        return assertions;
      });
    }
  }

  /// Basic authentication or a bearer token, not both.
  static void parseAuthentication(const ProbeConfig& config, Settings& s) {
    if (config.has("basic_auth_username")) {
      s.username = config.getString("basic_auth_username");
      s.password = config.has("basic_auth_password") ? config.getString("basic_auth_password") : "";
    } else if (config.has("basic_auth_password")) {
      config.fail("basic_auth_password", "needs basic_auth_username");
    }
    if (config.has("bearer_token")) {
      if (config.has("basic_auth_username")) {
        config.fail("bearer_token", "set either basic_auth_* or bearer_token, not both");
      }
      s.bearer_token = config.getString("bearer_token");
    }
  }

  /// CA and client certificate files, each readable now rather than failing every run.
  static void parseTls(const ProbeConfig& config, Settings& s) {
    s.tls = tls::parseFiles(config);
    for (auto [key, path] :
         {std::pair{"tls_ca_file", &s.tls.ca_file}, std::pair{"tls_cert_file", &s.tls.cert_file},
          std::pair{"tls_key_file", &s.tls.key_file}}) {
      if (path->empty()) {
        continue;
      }
      if (FILE* file = std::fopen(path->c_str(), "r")) {
        std::fclose(file);
      } else {
        config.fail(key, "cannot read '" + *path + "'");
      }
    }
    s.insecure_skip_verify = config.getBool("insecure_skip_verify");
    s.tls_expiry = tls::parseExpiry(config);
    if (s.insecure_skip_verify) {
      tls::warnInsecure(config, "insecure_skip_verify",
                        "any certificate and host name are accepted");
    }
  }

  /// Redirects, proxy, address family, fixed address, body limit, compression, reuse; returns
  /// the CURLOPT_RESOLVE lines.
  static std::vector<std::string> parseConnection(const ProbeConfig& config, const UrlParts& url,
                                                  Settings& s) {
    s.follow_redirects = config.getBool("follow_redirects");
    s.max_redirects = static_cast<long>(config.getInt("max_redirects"));
    if (s.max_redirects < 0) {
      config.fail("max_redirects", "must be 0 or more");
    }
    if (config.has("proxy_url")) {
      s.proxy_url = config.getString("proxy_url");
    }
    if (config.has("no_proxy")) {
      if (!config.has("proxy_url")) {
        config.fail("no_proxy", "only meaningful with proxy_url");
      }
      s.no_proxy = config.getString("no_proxy");
    }
    const std::string& ip = config.getString("ip_protocol");
    s.ip_mode = ip == "ip4"    ? IpMode::V4
                : ip == "ip6"  ? IpMode::V6
                : ip == "both" ? IpMode::Both
                               : IpMode::Any;
    std::vector<std::string> resolve_lines;
    if (config.has("resolve")) {
      const std::string& address = config.getString("resolve");
      asio::error_code ec;
      const auto parsed = asio::ip::make_address(address, ec);
      if (ec) {
        config.fail("resolve", "expected an IP address, got '" + address + "'");
      }
      if (s.ip_mode == IpMode::Both) {
        config.fail("resolve", "a single address cannot be probed with ip_protocol: both");
      }
      resolve_lines.push_back(url.host + ":" + url.port + ":" +
                              (parsed.is_v6() ? "[" + address + "]" : address));
    }
    s.max_body_bytes = config.getInt("max_body_bytes");
    if (s.max_body_bytes < 0) {
      config.fail("max_body_bytes", "must be 0 or more");
    }
    s.compression = config.getBool("compression");
    s.reuse_connections = config.getBool("reuse_connections");
    return resolve_lines;
  }
};

}  // namespace

ProbeFactoryPtr makeHttpProbeFactory() { return std::make_unique<HttpProbeFactory>(); }

}  // namespace vigie::probes
