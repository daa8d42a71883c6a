// SPDX-License-Identifier: Apache-2.0
#include "scenario/scenario_probe.h"

#include <curl/curl.h>

#include <algorithm>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <variant>

#include "http/curl_transfer.h"
#include "net/curl_multi.h"
#include "scenario/scenario_steps.h"
#include "tls/tls_options.h"
#include "util/timing.h"
#include "vigie/version.h"

namespace vigie::probes {
namespace {

using scenario::Extraction;
using scenario::Step;
using scenario::Variables;

struct Settings {
  std::vector<Step> steps;
  Variables variables;
  /// Values never shown: the password and its encoded forms.
  std::vector<std::string> secrets;
  tls::Files tls;
  bool insecure_skip_verify = false;
  tls::ExpiryThresholds tls_expiry;
  curl_off_t max_body_bytes = 1024 * 1024;
};

struct ScenarioFamilies {
  FamilyHandle step_duration = declareFamily("probe_scenario_step_duration_seconds",
                                             "Duration of each step run, redirects included");
  FamilyHandle step_success = declareFamily(
      "probe_scenario_step_success", "Whether each step succeeded (0 when failed or not reached)");
  FamilyHandle requests =
      declareFamily("probe_scenario_requests", "HTTP requests made by the scenario's run");

  Families all() const {
    return {step_duration,
            step_success,
            requests,
            families::tlsVersionInfo(),
            families::sslEarliestCertExpiry(),
            families::sslLastChainExpiry()};
  }
};

const ScenarioFamilies& scenarioFamilies() {
  static const ScenarioFamilies declared;
  return declared;
}

/// One request and its answer.
struct Exchange {
  explicit Exchange(curl_off_t limit) : max_body_bytes(limit) {}
  curl_off_t max_body_bytes;
  std::string body;
  curl_off_t body_bytes = 0;
  bool too_large = false;
  Headers headers;
  TlsCapture tls;
  char error[CURL_ERROR_SIZE] = {};
};

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  exchange->body_bytes += static_cast<curl_off_t>(bytes);
  if (exchange->body_bytes > exchange->max_body_bytes) {
    exchange->too_large = true;
    return 0;  // bounded memory per step, whatever the server sends
  }
  exchange->body.append(data, bytes);
  return bytes;
}

std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  std::string_view line(data, bytes);
  const std::size_t colon = line.find(':');
  if (line.rfind("HTTP/", 0) == 0 || colon == std::string_view::npos) {
    return bytes;
  }
  std::string name(line.substr(0, colon));
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  exchange->headers.emplace_back(std::move(name), std::string(value));
  return bytes;
}

std::string escaped(CURL* easy, const std::string& text) {
  char* encoded = curl_easy_escape(easy, text.data(), static_cast<int>(text.size()));
  std::string out = encoded == nullptr ? "" : encoded;
  curl_free(encoded);
  return out;
}

std::string urlEncoded(CURL* easy, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) {
      out += '&';
    }
    out += escaped(easy, name);
    out += '=';
    out += escaped(easy, value);
  }
  return out;
}

std::string withQuery(const std::string& url, const std::string& query) {
  if (query.empty()) {
    return url;
  }
  const std::size_t hash = url.find('#');
  const std::string base = url.substr(0, hash);
  return base + (base.find('?') == std::string::npos ? "?" : "&") + query;
}

/// The origin a connection serves, so each run opens its own first connection to it.
std::string originOf(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    return url;
  }
  return url.substr(0, url.find_first_of("/?#", scheme + 3));
}

double totalSeconds(CURL* easy) {
  curl_off_t micros = 0;
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &micros);
  return static_cast<double>(micros) / 1e6;
}

std::string shortened(std::string text, std::size_t limit) {
  if (text.size() > limit) {
    text.resize(limit);
    text += "...";
  }
  return text;
}

/// A request as a step sends it, before redirects.
struct Request {
  std::string method;
  std::string url;
  std::optional<std::string> body;
  std::vector<std::string> header_lines;
};

/// The last answer of a step: what a form step and the checks read.
struct Answer {
  std::string url;
  long status = 0;
  Headers headers;
  std::string body;
};

class ScenarioProbe final : public Probe {
 public:
  explicit ScenarioProbe(Settings settings) : settings_(std::move(settings)) {}
  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;

 private:
  struct Run {
    Variables variables;
    std::optional<Answer> previous;
    TlsCapture tls;
    std::set<std::string> origins;
    int requests = 0;
    std::vector<std::string> details;
  };
  struct Failure {
    std::string reason;
    std::string message;
  };

  std::variant<Request, Failure> buildRequest(CURL* easy, const Step& step, const Run& run) const;
  asio::awaitable<std::variant<Answer, Failure>> send(ProbeContext& ctx, CURL* easy,
                                                      const Step& step, Request request,
                                                      Run& run) const;
  std::optional<Failure> check(const Step& step, const Answer& answer) const;
  std::optional<Failure> extract(CURL* easy, const Step& step, const Answer& answer,
                                 Run& run) const;
  std::string redacted(std::string text) const;
  std::string excerpt(const Answer& answer) const;

  Settings settings_;
};

std::variant<Request, ScenarioProbe::Failure> ScenarioProbe::buildRequest(CURL* easy,
                                                                          const Step& step,
                                                                          const Run& run) const {
  Request request;
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& [name, value] : step.fields) {
    fields.emplace_back(name, value.render(run.variables));
  }
  if (step.form) {
    const Answer& page = *run.previous;
    const auto form = HtmlPage(page.body, page.url).form(*step.form);
    if (!form) {
      return Failure{"form_not_found", "no " + step.form->describe() + " on the previous page (" +
                                           shortened(page.url, 100) + ")"};
    }
    // The form's own values (hidden inputs, tokens) and the step's fields over them.
    std::vector<std::pair<std::string, std::string>> merged = form->fields;
    for (auto& [name, value] : fields) {
      auto same = std::find_if(merged.begin(), merged.end(),
                               [&name = name](const auto& field) { return field.first == name; });
      if (same != merged.end()) {
        same->second = std::move(value);
      } else {
        merged.emplace_back(name, std::move(value));
      }
    }
    request.method = step.method.empty() ? form->method : step.method;
    request.url = form->action;
    if (request.method == "GET") {
      request.url = withQuery(request.url, urlEncoded(easy, merged));
    } else {
      request.body = urlEncoded(easy, merged);
    }
  } else {
    request.url = step.url->render(run.variables);
    if (!fields.empty()) {
      request.body = urlEncoded(easy, fields);
    } else if (step.body) {
      request.body = step.body->render(run.variables);
    }
    request.method = !step.method.empty() ? step.method : request.body ? "POST" : "GET";
  }
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [name, value] : step.query) {
    query.emplace_back(name, value.render(run.variables));
  }
  request.url = withQuery(request.url, urlEncoded(easy, query));
  for (const auto& [name, value] : step.headers) {
    const std::string text = value.render(run.variables);
    request.header_lines.push_back(text.empty() ? name + ";" : name + ": " + text);
  }
  return request;
}

asio::awaitable<std::variant<Answer, ScenarioProbe::Failure>> ScenarioProbe::send(
    ProbeContext& ctx, CURL* easy, const Step& step, Request request, Run& run) const {
  CurlMulti& curl = CurlMulti::of(ctx.executor);
  const std::string user_agent = std::string("vigie-agent/") + kVersion;
  for (long redirects = 0;; ++redirects) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        ctx.deadline - std::chrono::steady_clock::now());
    // curl's own timeout fires just before the runner's deadline, so the failure names the step.
    const long timeout_ms = static_cast<long>(left.count()) - 20;
    if (timeout_ms <= 0) {
      co_return Failure{"timeout", "the scenario's timeout was reached before " + request.method +
                                       " " + shortened(redacted(request.url), 100)};
    }
    Exchange exchange(settings_.max_body_bytes);
    const Slist headers = makeSlist(request.header_lines);
    // Every option a request varies is set again, without curl_easy_reset: the run's one cookie
    // jar lives in this handle, and a reset would leak the engine's file list (curl 7.88).
    if (run.requests == 0) {
      curl_easy_setopt(easy, CURLOPT_COOKIEFILE, "");
    }
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, exchange.error);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &onBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &exchange);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &onHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &exchange);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    // Back to a plain GET (no body of an earlier request left pointed to), then this method.
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(-1));
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, nullptr);
    if (request.method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET" || request.body) {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (request.body) {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body->data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body->size()));
    }
    // Within a run connections are kept, as a browser does; its first request to each origin
    // opens a new one, so each run measures the handshakes and sees a server that went away.
    const bool new_origin = run.origins.insert(originOf(request.url)).second;
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, new_origin ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT, new_origin ? 0L : 60L);
    setTlsOptions(easy, settings_.tls, settings_.insecure_skip_verify, &exchange.tls);
    // Explicit, so the agent's environment (http_proxy...) never changes what is measured.
    curl_easy_setopt(easy, CURLOPT_PROXY, "");

    const CURLcode code = co_await curl.perform(easy, asio::use_awaitable);
    ++run.requests;
    run.tls.merge(exchange.tls);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    const char* location = nullptr;
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location);
    const std::string line = "  " + request.method + " " + shortened(redacted(request.url), 100) +
                             " -> " + (code == CURLE_OK ? std::to_string(status) : "failed") +
                             " in " + milliseconds(totalSeconds(easy));
    run.details.push_back(line);
    if (exchange.too_large) {
      co_return Failure{"too_large", "answer larger than max_body_bytes (" +
                                         std::to_string(settings_.max_body_bytes) + " bytes)"};
    }
    if (code != CURLE_OK) {
      co_return Failure{curlFailureReason(code),
                        curlFailureMessage(code, exchange.error, exchange.tls)};
    }
    const bool redirect = status >= 300 && status < 400 && location != nullptr;
    if (!redirect || !step.follow_redirects) {
      co_return Answer{request.url, status, std::move(exchange.headers), std::move(exchange.body)};
    }
    if (redirects >= step.max_redirects) {
      co_return Failure{"redirect_limit",
                        "more than " + std::to_string(step.max_redirects) + " redirects"};
    }
    // As browsers do: 303, and 301/302 after a POST, turn into a GET without body.
    if (status == 303 || ((status == 301 || status == 302) && request.method == "POST")) {
      request.method = "GET";
      request.body.reset();
    }
    request.url = location;
  }
}

std::optional<ScenarioProbe::Failure> ScenarioProbe::check(const Step& step,
                                                           const Answer& answer) const {
  if (!step.valid_status.contains(answer.status)) {
    return Failure{"http_status",
                   "HTTP " + std::to_string(answer.status) + " is not a valid status"};
  }
  if (auto failure = firstRegexFailure(step.fail_if_header_matches, step.fail_if_header_not_matches,
                                       step.fail_if_body_matches, step.fail_if_body_not_matches,
                                       answer.headers, answer.body)) {
    return Failure{failure->reason, failure->message};
  }
  if (!step.json.empty()) {
    if (auto failure = checkJson(answer.body, step.json)) {
      return Failure{failure->reason, failure->message};
    }
  }
  if (!step.xpath.empty()) {
    const HtmlPage page(answer.body, answer.url);
    for (const auto& assertion : step.xpath) {
      if (auto failure = assertion.check(page)) {
        return Failure{"xpath_assertion", *failure};
      }
    }
  }
  return std::nullopt;
}

std::optional<ScenarioProbe::Failure> ScenarioProbe::extract(CURL* easy, const Step& step,
                                                             const Answer& answer, Run& run) const {
  std::optional<HtmlPage> page;
  std::optional<nlohmann::json> document;
  for (const Extraction& extraction : step.extract) {
    std::optional<std::string> value;
    switch (extraction.source) {
      case Extraction::Source::Regex:
        value = extraction.regex->capture(answer.body);
        break;
      case Extraction::Source::Json: {
        if (!document) {
          document = parseBoundedJson(answer.body);
        }
        if (const nlohmann::json* found = extraction.json->find(*document)) {
          value = JsonPath::textOf(*found);
        }
        break;
      }
      case Extraction::Source::XPath: {
        if (!page) {
          page.emplace(answer.body, answer.url);
        }
        const auto result = page->evaluate(*extraction.xpath);
        if (result && (result->nodes > 0 || !result->value.empty())) {
          value = result->value;
        }
        break;
      }
      case Extraction::Source::Header:
        for (const auto& [name, text] : answer.headers) {
          if (name == extraction.expression) {
            value = text;
          }
        }
        break;
      case Extraction::Source::Cookie: {
        curl_slist* cookies = nullptr;
        curl_easy_getinfo(easy, CURLINFO_COOKIELIST, &cookies);
        const Slist owned(cookies);
        // Netscape format: domain, flag, path, secure, expiry, name, value (tab separated).
        for (curl_slist* item = cookies; item != nullptr; item = item->next) {
          std::vector<std::string_view> columns;
          std::string_view line(item->data);
          for (std::size_t tab; (tab = line.find('\t')) != std::string_view::npos;) {
            columns.push_back(line.substr(0, tab));
            line.remove_prefix(tab + 1);
          }
          columns.push_back(line);
          if (columns.size() == 7 && columns[5] == extraction.expression) {
            value = std::string(columns[6]);
          }
        }
        break;
      }
    }
    if (!value) {
      static constexpr const char* kSources[] = {"regex", "JSON path", "XPath", "header", "cookie"};
      return Failure{"extraction", std::string("variable ") + extraction.variable + ": " +
                                       kSources[static_cast<int>(extraction.source)] + " " +
                                       extraction.expression + " found nothing"};
    }
    run.variables[extraction.variable] = std::move(*value);
  }
  return std::nullopt;
}

std::string ScenarioProbe::redacted(std::string text) const {
  for (const std::string& secret : settings_.secrets) {
    for (std::size_t at; !secret.empty() && (at = text.find(secret)) != std::string::npos;) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

/// What the operator reads of a failing answer: its text (markup, scripts and hidden values
/// dropped), spaces collapsed, bounded, secrets removed.
std::string ScenarioProbe::excerpt(const Answer& answer) const {
  static const XPath visible_text("//body//text()[not(ancestor::script) and not(ancestor::style)]");
  const HtmlPage page(answer.body, answer.url);
  std::string text = page.joinedText(visible_text);
  return scenario::oneLine(redacted(text.empty() ? answer.body : text), 600);
}

asio::awaitable<ProbeResult> ScenarioProbe::run(ProbeContext& ctx) {
  const ScenarioFamilies& f = scenarioFamilies();
  CurlMulti& curl = CurlMulti::of(ctx.executor);
  // One handle for the whole run: it carries the run's cookie jar.
  CurlMulti::Easy easy = curl.easyHandle();
  // Declared after the handle, so its cookies (SSO sessions) are gone before the pool has it
  // back, and it points to none of this run's buffers, however the run ends.
  struct ForgetRun {
    CURL* easy;
    ~ForgetRun() {
      curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
      curl_easy_setopt(easy, CURLOPT_COOKIELIST, "ALL");
    }
  } forget{easy.get()};
  Run run;
  run.variables = settings_.variables;
  std::vector<Sample> samples;
  const auto started = std::chrono::steady_clock::now();
  const std::size_t total = settings_.steps.size();
  std::optional<ProbeResult> failed;
  for (std::size_t i = 0; i < total; ++i) {
    const Step& step = settings_.steps[i];
    const Labels labels{{"step", step.name}};
    const std::string title =
        "step " + std::to_string(i + 1) + "/" + std::to_string(total) + " " + step.name;
    if (failed) {
      samples.push_back({f.step_success, 0, labels});
      run.details.push_back(title + ": not run");
      continue;
    }
    ctx.phase = "step " + step.name;
    run.details.push_back(title + ":");
    const auto step_started = std::chrono::steady_clock::now();
    std::optional<Failure> failure;
    std::optional<Answer> answer;
    auto built = buildRequest(easy.get(), step, run);
    if (auto* fail = std::get_if<Failure>(&built)) {
      failure = std::move(*fail);
    } else {
      auto sent = co_await send(ctx, easy.get(), step, std::move(std::get<Request>(built)), run);
      if (auto* send_failure = std::get_if<Failure>(&sent)) {
        failure = std::move(*send_failure);
      } else {
        answer = std::move(std::get<Answer>(sent));
        failure = check(step, *answer);
        if (!failure) {
          failure = extract(easy.get(), step, *answer, run);
        }
      }
    }
    const double seconds = secondsSince(step_started);
    samples.push_back({f.step_duration, seconds, labels});
    samples.push_back({f.step_success, failure ? 0.0 : 1.0, labels});
    if (!failure) {
      run.details.push_back("  ok in " + milliseconds(seconds));
      run.previous = std::move(answer);
      continue;
    }
    // Whatever a message quotes of an answer, a secret it echoed is not shown.
    failure->message = redacted(std::move(failure->message));
    run.details.push_back("  FAILED (" + failure->reason + ") in " + milliseconds(seconds) + ": " +
                          failure->message);
    if (answer) {
      run.details.push_back("  answer: " + excerpt(*answer));
    } else if (step.form && run.previous) {
      run.details.push_back("  previous page: " + excerpt(*run.previous));
    }
    failed =
        ProbeResult::critical(failure->reason, "étape " + step.name + " : " + failure->message);
  }
  samples.push_back({f.requests, static_cast<double>(run.requests)});
  // As for http: the thresholds judge the earliest certificate of all the run's connections, once
  // every step has passed.
  if (!failed && run.tls.seen) {
    failed = tls::checkExpiry(settings_.tls_expiry, run.tls.peer);
  }
  ProbeResult result =
      failed ? std::move(*failed)
             : ProbeResult::ok(std::to_string(total) + " steps, " + std::to_string(run.requests) +
                               " requests in " + milliseconds(secondsSince(started)));
  describeTls(run.tls, samples, run.details);
  result.samples = std::move(samples);
  result.details = std::move(run.details);
  co_return result;
}

class ScenarioProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "scenario"; }

  const Families& families() const override {
    static const Families declared = scenarioFamilies().all();
    return declared;
  }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema = [] {
      ConfigSchema fields{
          {"steps",
           FieldType::Node,
           true,
           {},
           "List of steps: {name, url or form, method, headers, query, fields, body, "
           "follow_redirects, max_redirects, checks, extract}"},
          {"variables",
           FieldType::StringMap,
           false,
           {},
           "Variables for {{name}}; values expand ${ENV}"},
          {"username", FieldType::String, false, {}, "The {{username}} variable"},
          {"password",
           FieldType::Secret,
           false,
           {},
           "The {{password}} variable (or password_file); never shown"},
          {"max_body_bytes", FieldType::Int, false, "1048576",
           "Largest answer kept per request; larger ones fail with reason too_large"},
      };
      tls::KeySpec keys;
      keys.ca_doc = "CA bundle (default: the system's)";
      keys.cert_doc = "Client certificate (PEM) for mTLS";
      keys.key_doc = "Client key (PEM) for mTLS";
      keys.insecure_key = "insecure_skip_verify";
      keys.insecure_doc =
          "Accept any certificate and host name. Logged loudly; never for production";
      tls::appendSchema(fields, keys);
      tls::appendExpirySchema(fields);
      return fields;
    }();
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    Settings s;
    std::set<std::string> known;
    if (config.has("variables")) {
      for (const auto& [name, value] : config.getStringMap("variables")) {
        s.variables[name] = value;
        known.insert(name);
      }
    }
    if (config.has("username")) {
      s.variables["username"] = config.getString("username");
      known.insert("username");
    }
    if (config.has("password")) {
      const std::string& password = config.getString("password");
      s.variables["password"] = password;
      known.insert("password");
      if (!password.empty()) {
        s.secrets.push_back(password);
        std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(),
                                                                 &curl_easy_cleanup);
        const std::string encoded = escaped(easy.get(), password);
        if (encoded != password) {
          s.secrets.push_back(encoded);
        }
      }
    }
    try {
      s.steps = scenario::parseSteps(config.getNode("steps"), known);
    } catch (const std::invalid_argument& e) {
      config.fail("steps", e.what());
    }
    s.tls = tls::parseFiles(config);
    s.insecure_skip_verify = config.getBool("insecure_skip_verify");
    s.tls_expiry = tls::parseExpiry(config);
    if (s.insecure_skip_verify) {
      tls::warnInsecure(config, "insecure_skip_verify",
                        "any certificate and host name are accepted");
    }
    s.max_body_bytes = config.getInt("max_body_bytes");
    if (s.max_body_bytes <= 0) {
      config.fail("max_body_bytes", "must be more than 0");
    }
    return std::make_unique<ScenarioProbe>(std::move(s));
  }
};

}  // namespace

ProbeFactoryPtr makeScenarioProbeFactory() { return std::make_unique<ScenarioProbeFactory>(); }

}  // namespace vigie::probes
