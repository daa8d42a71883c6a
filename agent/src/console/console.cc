// SPDX-License-Identifier: Apache-2.0
#include "console/console.h"

#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <tuple>
#include <type_traits>

#include "alert/alert_state.h"
#include "alert/maintenance.h"
#include "util/duration.h"
#include "util/log.h"
#include "util/utf8.h"

namespace vigie {

namespace {

constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::size_t kMaxComment = 4096;

std::string percentDecoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) {
      items.push_back(text.substr(start, comma - start));
    }
    start = comma + 1;
  }
  return items;
}

/// Sort rank of a status word: failing first (docs/API.md).
int rankOf(const ProbeState& state) {
  if (!state.alert.has_result) {
    return 4;
  }
  switch (state.alert.status) {
    case Status::Critical:
      return 0;
    case Status::Unknown:
      return 1;
    case Status::Warning:
      return 2;
    case Status::Ok:
      return 3;
  }
  return 4;
}

std::string statusWord(const ProbeState& state) {
  if (!state.alert.has_result) {
    return "pending";
  }
  std::string word(statusName(state.alert.status));
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return word;
}

std::string statusWord(Status status) {
  std::string word(statusName(status));
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return word;
}

/// First failure of the current problem; when OK, the last state change; nothing when pending.
std::optional<WallTime> sinceOf(const ProbeState& state) {
  if (!state.alert.has_result) {
    return std::nullopt;
  }
  if (state.alert.status != Status::Ok && state.alert.first_failure != WallTime{}) {
    return state.alert.first_failure;
  }
  if (state.alert.last_state_change != WallTime{}) {
    return state.alert.last_state_change;
  }
  return state.last_run;
}

bool hasPrefix(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

/// "2027-01-31 12:00:00 UTC" (tls_inspect's date) as a time.
std::optional<WallTime> parseCertificateDate(const std::string& text) {
  std::tm tm{};
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

nlohmann::json errorBody(std::string_view code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

ActionResult failure(int status, std::string_view code, const std::string& message) {
  return {status, errorBody(code, message)};
}

HttpResponse jsonResponse(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json; charset=utf-8";
  if (!body.is_null()) {
    response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    response.body.push_back('\n');
  }
  return response;
}

HttpResponse errorResponse(int status, std::string_view code, const std::string& message) {
  return jsonResponse(status, errorBody(code, message));
}

std::vector<std::string> pathSegments(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      slash = path.size();
    }
    if (slash > start) {
      segments.push_back(percentDecoded(path.substr(start, slash - start)));
    }
    start = slash + 1;
  }
  return segments;
}

std::string queryValue(std::string_view query, std::string_view name) {
  std::size_t start = 0;
  while (start < query.size()) {
    const std::size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, amp - start);
    const std::size_t eq = pair.find('=');
    if (percentDecoded(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : percentDecoded(pair.substr(eq + 1));
    }
    start = amp + 1;
  }
  return {};
}

std::string labelsText(const Labels& labels) {
  std::string text;
  for (const auto& [name, value] : labels) {
    text += (text.empty() ? "" : ",") + name + "=" + value;
  }
  return text;
}

}  // namespace

ProbeQuery ProbeQuery::fromQueryString(std::string_view query) {
  ProbeQuery parsed;
  std::size_t start = 0;
  while (start < query.size()) {
    const std::size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      continue;
    }
    const std::string name = percentDecoded(pair.substr(0, eq));
    const std::string value = percentDecoded(pair.substr(eq + 1));
    if (name == "status") {
      for (const std::string& word : splitList(value)) {
        parsed.statuses.push_back(word);
      }
    } else if (hasPrefix(name, "label.") && name.size() > 6) {
      parsed.labels[name.substr(6)].push_back(value);
    } else if (name == "q") {
      parsed.text = value;
    } else if (name == "problems") {
      parsed.problems = value == "1" || value == "true";
    }
  }
  return parsed;
}

std::optional<SilenceRequest> SilenceRequest::fromJson(const nlohmann::json& body,
                                                       std::string& error) {
  if (!body.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  SilenceRequest request;
  const auto text = [&body, &error](const char* key, std::string& out) {
    if (!body.contains(key) || body[key].is_null()) {
      return true;
    }
    if (!body[key].is_string()) {
      error = std::string(key) + " must be a string";
      return false;
    }
    out = body[key].get<std::string>();
    return true;
  };
  std::string duration;
  std::string ends_at;
  std::string starts_at;
  if (!text("probe", request.probe) || !text("comment", request.comment) ||
      !text("duration", duration) || !text("ends_at", ends_at) || !text("starts_at", starts_at)) {
    return std::nullopt;
  }
  if (body.contains("labels") && !body["labels"].is_null()) {
    if (!body["labels"].is_object()) {
      error = "labels must be an object of label names to values";
      return std::nullopt;
    }
    for (const auto& [name, value] : body["labels"].items()) {
      if (!value.is_string()) {
        error = "labels." + name + " must be a string";
        return std::nullopt;
      }
      request.labels.emplace_back(name, value.get<std::string>());
    }
  }
  if (request.probe.empty() == request.labels.empty()) {
    error = "give either probe or labels (a non-empty object)";
    return std::nullopt;
  }
  if (duration.empty() == ends_at.empty()) {
    error = "give either duration (\"2h\") or ends_at (RFC 3339)";
    return std::nullopt;
  }
  if (!duration.empty()) {
    request.duration = parseDuration(duration);
    if (!request.duration || request.duration->count() <= 0) {
      error = "duration: expected a positive duration such as \"90s\", \"15m\", \"2h\", \"1d\"";
      return std::nullopt;
    }
  } else if (!(request.ends_at = parseTimestamp(ends_at))) {
    error = "ends_at: expected an RFC 3339 time such as 2026-11-30T06:00:00+01:00";
    return std::nullopt;
  }
  if (!starts_at.empty() && !(request.starts_at = parseTimestamp(starts_at))) {
    error = "starts_at: expected an RFC 3339 time such as 2026-11-30T06:00:00+01:00";
    return std::nullopt;
  }
  if (request.comment.size() > kMaxComment) {
    error = "comment: at most " + std::to_string(kMaxComment) + " bytes";
    return std::nullopt;
  }
  return request;
}

Console::Console(StateStore& store, Alerter& alerter, StateDatabase* db, Hooks hooks)
    : store_(store), alerter_(alerter), hooks_(std::move(hooks)) {
  if (db != nullptr) {
    db_.emplace(*db);
  }
}

void Console::configure(const AgentConfig& config) {
  agent_ = config.agent.name;
  timezone_ = config.agent.timezone;
  zone_ = config.agent.zone;
  local_cache_ = {};
  endpoint_has_users_ = config.agent.web && !config.agent.web->basic_auth_users.empty();
  timings_.clear();
  for (const ProbeSpec& spec : config.probes) {
    timings_[spec.name] = {std::chrono::duration<double>(spec.interval).count(),
                           std::chrono::duration<double>(spec.timeout).count()};
  }
  if (db_) {
    // A probe removed from the configuration takes its acknowledgement with it.
    for (const auto& [name, ack] : db_->acknowledgements()) {
      if (timings_.count(name) == 0) {
        db_->forgetAcknowledgement(name);
      }
    }
  }
}

void Console::restore(WallTime now) {
  if (!db_) {
    return;
  }
  for (auto& [name, ack] : db_->acknowledgements()) {
    ProbeState* state = store_.find(name);
    if (state == nullptr || state->alert.status == Status::Ok) {
      db_->forgetAcknowledgement(name);  // recovered or removed while the agent was down
      continue;
    }
    state->acknowledgement = std::move(ack);
  }
  for (Silence& silence : db_->silences()) {
    alerter_.silences().add(std::move(silence));
  }
  expireSilences(now);
}

void Console::afterUpdate(const AlertUpdate& update, WallTime now) {
  if (update.acknowledgement_cleared) {
    logInfo("console: the acknowledgement of " + update.probe + " ends: the probe recovered");
    if (db_) {
      db_->forgetAcknowledgement(update.probe);
    }
  }
  expireSilences(now);
}

void Console::onDelivery(const OutboxEvent& event, const Classified& result) {
  const auto payload = nlohmann::json::parse(event.payload, nullptr, false);
  if (!payload.is_object() || !payload.contains("check") || !payload["check"].is_object()) {
    return;
  }
  ProbeState* state = store_.find(payload["check"].value("name", ""));
  if (state == nullptr) {
    return;
  }
  const bool delivered = result.outcome == Outcome::Delivered;
  HistoryEntry entry{std::chrono::system_clock::now(),
                     delivered ? "delivered" : "delivery_failed",
                     event.action + (delivered ? std::string() : ": " + result.detail),
                     {},
                     event.destination,
                     delivered ? "ok" : result.reason};
  if (!delivered && !state->history.empty()) {
    const HistoryEntry& last = state->history.back();
    if (last.kind == entry.kind && last.destination == entry.destination &&
        last.text == entry.text) {
      return;  // the same refusal retried: once is enough to read
    }
  }
  state->addHistory(std::move(entry));
}

void Console::expireSilences(WallTime now) {
  for (const Silence& ended : alerter_.silences().expire(now)) {
    logInfo("console: silence " + ended.id + " (" +
            (ended.probe.empty() ? labelsText(ended.labels) : ended.probe) + ") ended");
    for (const auto& [name, state] : store_.probes()) {
      if (ended.matches(name, state.labels)) {
        store_.find(name)->addHistory(
            {now, "unsilenced", "silence " + ended.id + " ended", {}, {}, {}});
      }
    }
    if (db_) {
      db_->forgetSilence(ended.id);
    }
  }
}

nlohmann::json Console::time(WallTime at) const {
  return at == WallTime{} ? nlohmann::json() : nlohmann::json(rfc3339(at));
}

std::string Console::local(WallTime at) const {
  // humanTime's text without its per-call zone lookup and stream formatting: the list of
  // 10,000 probes formats three local times each.
  const auto seconds = std::chrono::floor<std::chrono::seconds>(at);
  if (zone_ == nullptr) {
    local_cache_.offset = {};
    local_cache_.suffix = " UTC";
  } else if (!(local_cache_.begin <= seconds && seconds < local_cache_.end)) {
    const date::sys_info info = zone_->get_info(seconds);
    local_cache_.begin = info.begin;
    local_cache_.end = info.end;
    local_cache_.offset = info.offset;
    const auto minutes =
        std::abs(std::chrono::duration_cast<std::chrono::minutes>(info.offset).count());
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, " UTC%c%02d:%02d (", info.offset.count() < 0 ? '-' : '+',
                  static_cast<int>(minutes / 60), static_cast<int>(minutes % 60));
    local_cache_.suffix = suffix + std::string(zone_->name()) + ")";
  }
  const std::time_t local_seconds =
      static_cast<std::time_t>((seconds + local_cache_.offset).time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&local_seconds, &tm);
  char text[80];
  std::snprintf(text, sizeof text, "%02d/%02d/%04d %02d:%02d:%02d", tm.tm_mday, tm.tm_mon + 1,
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text + local_cache_.suffix;
}

namespace {

/// JSON text written straight into one string: the list of 10,000 probes must take well under
/// 50 ms, which building a nlohmann::json tree of it does not.
class JsonText {
 public:
  explicit JsonText(std::string& out) : out_(out) {}

  void key(std::string_view name) {
    string(name);
    out_.push_back(':');
    fresh_ = true;
  }
  void string(std::string_view text) {
    if (std::any_of(text.begin(), text.end(), [](char c) { return (c & 0x80) != 0; })) {
      // JSON is UTF-8: whatever a plugin printed is made valid first (rare, not on ASCII).
      const std::string valid = sanitizeText(text, text.size() * 3);
      stringChecked(valid);
      return;
    }
    stringChecked(text);
  }
  void stringChecked(std::string_view text) {
    separate();
    out_.push_back('"');
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto byte = static_cast<unsigned char>(text[i]);
      if (byte >= 0x20 && byte != '"' && byte != '\\') {
        continue;
      }
      out_.append(text.substr(run, i - run));
      run = i + 1;
      if (byte == '"' || byte == '\\') {
        out_.push_back('\\');
        out_.push_back(static_cast<char>(byte));
      } else {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
        out_.append(escaped);
      }
    }
    out_.append(text.substr(run));
    out_.push_back('"');
  }
  void raw(std::string_view text) {
    separate();
    out_.append(text);
  }
  void number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", value);
    raw(text);
  }
  void integer(long long value) { raw(std::to_string(value)); }
  void boolean(bool value) { raw(value ? "true" : "false"); }
  void null() { raw("null"); }
  void open(char bracket) {
    separate();
    out_.push_back(bracket);
    fresh_ = true;
  }
  void close(char bracket) {
    out_.push_back(bracket);
    fresh_ = false;
  }
  template <typename T>
  void field(std::string_view name, const T& value) {
    key(name);
    if constexpr (std::is_same_v<T, bool>) {
      boolean(value);
    } else if constexpr (std::is_integral_v<T>) {
      integer(value);
    } else if constexpr (std::is_floating_point_v<T>) {
      number(value);
    } else {
      string(value);
    }
  }

 private:
  void separate() {
    if (!fresh_) {
      out_.push_back(',');
    }
    fresh_ = false;
  }

  std::string& out_;
  bool fresh_ = true;
};

}  // namespace

void Console::appendSummary(std::string& out, const ProbeState& state, WallTime now,
                            bool firing_since) const {
  const AlertState& alert = state.alert;
  JsonText json(out);
  json.open('{');
  json.field("name", state.name);
  json.field("type", state.type);
  json.key("labels");
  json.open('{');
  for (const auto& [name, value] : state.labels) {
    json.field(name, value);
  }
  json.close('}');
  json.field("status", statusWord(state));
  json.field("state_type", alert.type == StateType::Hard ? "hard" : "soft");
  json.field("attempt", alert.attempt);
  json.field("max_attempts", state.policy.max_attempts);
  const auto time_fields = [&](std::string_view name, std::optional<WallTime> at) {
    json.key(name);
    at ? json.string(rfc3339(*at)) : json.null();
    json.key(std::string(name) + "_local");
    at ? json.string(local(*at)) : json.null();
  };
  time_fields("since", sinceOf(state));
  time_fields("last_run_at",
              state.last_result ? std::optional<WallTime>(state.last_run) : std::nullopt);
  json.field("duration_seconds", state.last_duration_seconds);
  json.field("reason", state.last_result ? state.last_result->reason : std::string());
  json.field("message", state.last_result ? state.last_result->message : std::string());
  json.field("flapping", alert.flapping);
  const Silence* silence = alerter_.silences().covering(state.name, state.labels, now);
  // A silence holds alerts back through the maintenance flag: shown apart.
  json.field("in_maintenance", alert.in_maintenance && silence == nullptr);
  json.field("unreachable", alert.unreachable);
  json.key("acknowledgement");
  if (state.acknowledgement) {
    json.open('{');
    json.field("author", state.acknowledgement->author);
    json.field("comment", state.acknowledgement->comment);
    json.field("at", rfc3339(state.acknowledgement->at));
    json.field("at_local", local(state.acknowledgement->at));
    json.close('}');
  } else {
    json.null();
  }
  json.key("silence");
  if (silence != nullptr) {
    json.open('{');
    json.field("id", silence->id);
    json.field("ends_at", rfc3339(silence->ends_at));
    json.field("ends_at_local", local(silence->ends_at));
    json.field("author", silence->author);
    json.field("comment", silence->comment);
    json.close('}');
  } else {
    json.null();
  }
  json.key("runbook_url");
  state.runbook_url.empty() ? json.null() : json.string(state.runbook_url);
  json.key("instructions");
  state.instructions.empty() ? json.null() : json.string(state.instructions);
  if (firing_since) {
    const WallTime since = alert.firing_since;
    time_fields("firing_since", since == WallTime{} ? std::nullopt : std::optional(since));
  }
  json.close('}');
}

std::vector<const ProbeState*> Console::select(const ProbeQuery& query,
                                               std::array<int, 5>* counts) const {
  std::vector<const ProbeState*> selected;
  selected.reserve(store_.probes().size());
  for (const auto& [name, state] : store_.probes()) {
    const int rank = rankOf(state);
    if (counts != nullptr) {
      ++(*counts)[static_cast<std::size_t>(rank)];
    }
    const bool problem = state.alert.has_result && state.alert.status != Status::Ok;
    if ((query.problems && !problem) || (query.hard_problems && !state.alert.hardProblem())) {
      continue;
    }
    if (!query.text.empty() && name.find(query.text) == std::string::npos) {
      continue;
    }
    if (!query.statuses.empty() && std::find(query.statuses.begin(), query.statuses.end(),
                                             statusWord(state)) == query.statuses.end()) {
      continue;
    }
    const bool labels_match =
        std::all_of(query.labels.begin(), query.labels.end(), [&state](const auto& wanted) {
          for (const auto& [label, value] : state.labels) {
            if (label == wanted.first) {
              return std::find(wanted.second.begin(), wanted.second.end(), value) !=
                     wanted.second.end();
            }
          }
          return false;
        });
    if (labels_match) {
      selected.push_back(&state);
    }
  }
  struct Key {
    int rank;
    bool soft;
    WallTime since;
    const ProbeState* state;
  };
  std::vector<Key> keys;
  keys.reserve(selected.size());
  for (const ProbeState* state : selected) {
    keys.push_back({rankOf(*state), state->alert.type == StateType::Soft,
                    sinceOf(*state).value_or(WallTime::max()), state});
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return std::tie(a.rank, a.soft, a.since, a.state->name) <
           std::tie(b.rank, b.soft, b.since, b.state->name);
  });
  for (std::size_t i = 0; i < keys.size(); ++i) {
    selected[i] = keys[i].state;
  }
  return selected;
}

std::string Console::probesText(const ProbeQuery& query, std::size_t offset,
                                std::optional<std::size_t> limit) const {
  const WallTime now = std::chrono::system_clock::now();
  std::array<int, 5> counts{};
  const std::vector<const ProbeState*> selected = select(query, &counts);
  std::string out;
  out.reserve(256 + selected.size() * 700);
  JsonText json(out);
  json.open('{');
  json.field("agent", agent_);
  json.field("generated_at", rfc3339(now));
  json.field("timezone", timezone_);
  json.key("counts");
  json.open('{');
  json.field("ok", counts[3]);
  json.field("warning", counts[2]);
  json.field("critical", counts[0]);
  json.field("unknown", counts[1]);
  json.field("pending", counts[4]);
  json.close('}');
  const std::size_t first = std::min(offset, selected.size());
  const std::size_t end = limit ? std::min(selected.size(), first + *limit) : selected.size();
  if (limit) {
    json.field("total", static_cast<std::int64_t>(selected.size()));
    json.field("offset", static_cast<std::int64_t>(first));
  }
  json.key("probes");
  json.open('[');
  for (std::size_t i = first; i < end; ++i) {
    if (i > first) {
      out.push_back(',');
    }
    appendSummary(out, *selected[i], now, query.hard_problems);
  }
  json.close(']');
  json.close('}');
  return out;
}

nlohmann::json Console::probes(const ProbeQuery& query) const {
  return nlohmann::json::parse(probesText(query));
}

nlohmann::json Console::alerts() const {
  ProbeQuery query;
  query.hard_problems = true;
  return probes(query);
}

std::optional<nlohmann::json> Console::probe(const std::string& name) const {
  const ProbeState* state = store_.find(name);
  if (state == nullptr) {
    return std::nullopt;
  }
  const WallTime now = std::chrono::system_clock::now();
  std::string summary;
  appendSummary(summary, *state, now, false);
  nlohmann::json out = nlohmann::json::parse(summary);
  const auto timing = timings_.find(name);
  out["interval_seconds"] = timing != timings_.end() ? timing->second.interval_seconds : 0.0;
  out["timeout_seconds"] = timing != timings_.end() ? timing->second.timeout_seconds : 0.0;
  out["depends_on"] = state->depends_on;

  nlohmann::json results = nlohmann::json::array();
  for (auto it = state->recent.rbegin(); it != state->recent.rend(); ++it) {
    nlohmann::json phases = nlohmann::json::object();
    for (const auto& [phase, seconds] : it->phases) {
      phases[phase] = seconds;
    }
    results.push_back({{"at", rfc3339(it->at)},
                       {"at_local", local(it->at)},
                       {"status", statusWord(it->status)},
                       {"duration_seconds", it->duration_seconds},
                       {"reason", it->reason},
                       {"message", it->message},
                       {"phases", std::move(phases)},
                       {"details", it->details}});
  }
  out["results"] = std::move(results);

  // The http probe's well-known detail lines (docs/PLUGINS.md): from the newest result that has
  // details for the certificate and redirects, from the newest failing one for the excerpt.
  nlohmann::json certificate;
  nlohmann::json redirects = nlohmann::json::array();
  nlohmann::json excerpt;
  bool described = false;
  for (auto it = state->recent.rbegin(); it != state->recent.rend(); ++it) {
    if (!described && !it->details.empty()) {
      described = true;
      for (const std::string& line : it->details) {
        if (hasPrefix(line, "certificate: ")) {
          const std::string text = line.substr(13);
          const std::size_t expires = text.rfind(", expires ");
          const std::string subject = text.substr(0, expires);
          if (certificate.is_null()) {
            certificate = {{"subject", subject}, {"issuer", nullptr}};
            const auto not_after = expires == std::string::npos
                                       ? std::nullopt
                                       : parseCertificateDate(text.substr(expires + 10));
            certificate["not_after"] = not_after ? time(*not_after) : nlohmann::json();
            certificate["not_after_local"] =
                not_after ? nlohmann::json(local(*not_after)) : nlohmann::json();
          } else if (certificate["issuer"].is_null()) {
            // The chain's next certificate is the one that signed the leaf.
            certificate["issuer"] = subject;
          }
        } else if (hasPrefix(line, "response ")) {
          const std::size_t colon = line.find(": ");
          if (colon != std::string::npos) {
            redirects.push_back(line.substr(colon + 2));
          }
        }
      }
    }
    if (excerpt.is_null() && it->status != Status::Ok) {
      for (const std::string& line : it->details) {
        if (hasPrefix(line, "excerpt: ")) {
          excerpt = line.substr(9);
          break;
        }
      }
    }
  }
  out["certificate"] = std::move(certificate);
  out["redirects"] = std::move(redirects);
  out["excerpt"] = std::move(excerpt);

  nlohmann::json history = nlohmann::json::array();
  for (auto it = state->history.rbegin(); it != state->history.rend(); ++it) {
    const auto orNull = [](const std::string& text) {
      return text.empty() ? nlohmann::json() : nlohmann::json(text);
    };
    history.push_back({{"at", rfc3339(it->at)},
                       {"at_local", local(it->at)},
                       {"kind", it->kind},
                       {"text", it->text},
                       {"author", orNull(it->author)},
                       {"destination", orNull(it->destination)},
                       {"outcome", orNull(it->outcome)}});
  }
  out["history"] = std::move(history);
  return out;
}

nlohmann::json Console::acknowledgements() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, state] : store_.probes()) {
    if (state.acknowledgement) {
      list.push_back({{"probe", name},
                      {"author", state.acknowledgement->author},
                      {"comment", state.acknowledgement->comment},
                      {"at", rfc3339(state.acknowledgement->at)},
                      {"at_local", local(state.acknowledgement->at)}});
    }
  }
  return list;
}

nlohmann::json Console::silenceJson(const Silence& silence, WallTime now) const {
  nlohmann::json labels;
  if (!silence.labels.empty()) {
    labels = nlohmann::json::object();
    for (const auto& [name, value] : silence.labels) {
      labels[name] = value;
    }
  }
  nlohmann::json matched = nlohmann::json::array();
  for (const auto& [name, state] : store_.probes()) {
    if (silence.matches(name, state.labels)) {
      matched.push_back(name);
    }
  }
  return {{"id", silence.id},
          {"probe", silence.probe.empty() ? nlohmann::json() : nlohmann::json(silence.probe)},
          {"labels", std::move(labels)},
          {"starts_at", rfc3339(silence.starts_at)},
          {"starts_at_local", local(silence.starts_at)},
          {"ends_at", rfc3339(silence.ends_at)},
          {"ends_at_local", local(silence.ends_at)},
          {"author", silence.author},
          {"comment", silence.comment},
          {"created_at", rfc3339(silence.created_at)},
          {"active", silence.activeAt(now)},
          {"probes", std::move(matched)}};
}

nlohmann::json Console::silences() const {
  const WallTime now = std::chrono::system_clock::now();
  nlohmann::json list = nlohmann::json::array();
  for (const Silence& silence : alerter_.silences().all()) {
    if (!silence.endedAt(now)) {
      list.push_back(silenceJson(silence, now));
    }
  }
  return list;
}

nlohmann::json Console::outbox() const {
  nlohmann::json destinations = nlohmann::json::array();
  if (db_) {
    for (const OutboxSummary& summary : db_->outbox()) {
      const WallTime oldest{std::chrono::milliseconds(summary.oldest_pending_ms)};
      destinations.push_back(
          {{"name", summary.destination},
           {"pending", summary.pending},
           {"oldest_pending_at", summary.pending > 0 ? time(oldest) : nlohmann::json()},
           {"dead_letters", summary.dead_letters}});
    }
  }
  return {{"destinations", std::move(destinations)}};
}

std::optional<nlohmann::json> Console::deadLetters(const std::string& destination) const {
  nlohmann::json list = nlohmann::json::array();
  if (db_) {
    for (const DeadLetter& letter : db_->deadLetters(destination)) {
      list.push_back({{"id", letter.id},
                      {"dedup_key", letter.dedup_key},
                      {"probe", letter.probe},
                      {"action", letter.action},
                      {"created_at", time(WallTime(std::chrono::milliseconds(letter.created_ms)))},
                      {"last_error", letter.reason}});
    }
  }
  return list;
}

nlohmann::json Console::audit(std::int64_t limit) const {
  std::vector<AuditEntry> entries;
  if (db_) {
    entries = db_->auditTrail(limit);
  } else {
    for (auto it = memory_audit_.rbegin();
         it != memory_audit_.rend() && static_cast<std::int64_t>(entries.size()) < limit; ++it) {
      entries.push_back(*it);
    }
  }
  nlohmann::json list = nlohmann::json::array();
  for (const AuditEntry& entry : entries) {
    list.push_back({{"at", rfc3339(entry.at)},
                    {"at_local", local(entry.at)},
                    {"author", entry.author},
                    {"via", entry.via},
                    {"action", entry.action},
                    {"target", entry.target},
                    {"detail", entry.detail}});
  }
  return list;
}

void Console::recordAction(const Actor& actor, const std::string& action, const std::string& target,
                           const std::string& detail, WallTime now) {
  logInfo("console: " + actor.name + " (" + actor.via +
          (actor.remote.empty() ? "" : " from " + actor.remote) + ") " + action + " " + target +
          (detail.empty() ? "" : ": " + detail));
  AuditEntry entry{now, actor.name, actor.via, action, target, detail};
  if (db_) {
    db_->audit(entry);
  } else {
    if (memory_audit_.size() >= 1000) {
      memory_audit_.erase(memory_audit_.begin());
    }
    memory_audit_.push_back(std::move(entry));
  }
}

ActionResult Console::acknowledge(const Actor& actor, const std::string& probe,
                                  const std::string& comment) {
  ProbeState* state = store_.find(probe);
  if (state == nullptr) {
    return failure(404, "not_found", "no probe is named '" + probe + "'");
  }
  if (!state->alert.has_result || state->alert.status == Status::Ok) {
    return failure(409, "conflict", "probe '" + probe + "' has no problem to acknowledge");
  }
  if (comment.size() > kMaxComment) {
    return failure(400, "bad_request", "comment: at most 4096 bytes");
  }
  const WallTime now = std::chrono::system_clock::now();
  state->acknowledgement = Acknowledgement{actor.name, comment, now};
  state->addHistory({now, "acknowledged", comment, actor.name, {}, {}});
  if (db_) {
    db_->saveAcknowledgement(probe, *state->acknowledgement);
  }
  recordAction(actor, "acknowledge", probe, comment, now);
  AlertUpdate update = alerter_.acknowledged(*state, now);
  if (!update.events.empty() && hooks_.forward) {
    hooks_.forward(std::move(update));
  }
  return {201,
          {{"probe", probe},
           {"author", actor.name},
           {"comment", comment},
           {"at", rfc3339(now)},
           {"at_local", local(now)}}};
}

ActionResult Console::unacknowledge(const Actor& actor, const std::string& probe) {
  ProbeState* state = store_.find(probe);
  if (state == nullptr || !state->acknowledgement) {
    return failure(404, "not_found", "probe '" + probe + "' has no acknowledgement");
  }
  const WallTime now = std::chrono::system_clock::now();
  state->acknowledgement.reset();
  state->addHistory({now, "unacknowledged", "removed", actor.name, {}, {}});
  if (db_) {
    db_->forgetAcknowledgement(probe);
  }
  recordAction(actor, "unacknowledge", probe, "", now);
  return {204, nullptr};
}

ActionResult Console::silence(const Actor& actor, const SilenceRequest& request) {
  if (!request.probe.empty() && store_.find(request.probe) == nullptr) {
    return failure(404, "not_found", "no probe is named '" + request.probe + "'");
  }
  const WallTime now = std::chrono::system_clock::now();
  Silence silence;
  silence.id = newEventId(now);
  silence.probe = request.probe;
  silence.labels = request.labels;
  silence.starts_at = request.starts_at.value_or(now);
  silence.ends_at = request.ends_at ? *request.ends_at : silence.starts_at + *request.duration;
  silence.author = actor.name;
  silence.comment = request.comment;
  silence.created_at = now;
  if (silence.ends_at <= silence.starts_at || silence.ends_at <= now) {
    return failure(400, "bad_request", "the silence would end before it starts or in the past");
  }
  const std::string target = silence.probe.empty() ? labelsText(silence.labels) : silence.probe;
  const std::string text = "until " + local(silence.ends_at) +
                           (silence.starts_at > now ? " from " + local(silence.starts_at) : "") +
                           (silence.comment.empty() ? "" : ": " + silence.comment);
  for (const auto& [name, state] : store_.probes()) {
    if (silence.matches(name, state.labels)) {
      store_.find(name)->addHistory({now, "silenced", text, actor.name, {}, {}});
    }
  }
  if (db_) {
    db_->saveSilence(silence);
  }
  recordAction(actor, "silence", target, silence.id + " " + text, now);
  nlohmann::json body = silenceJson(silence, now);
  alerter_.silences().add(std::move(silence));
  return {201, std::move(body)};
}

ActionResult Console::unsilence(const Actor& actor, const std::string& id) {
  const WallTime now = std::chrono::system_clock::now();
  const auto& all = alerter_.silences().all();
  const auto found = std::find_if(all.begin(), all.end(),
                                  [&id](const Silence& silence) { return silence.id == id; });
  if (found == all.end()) {
    return failure(404, "not_found", "no silence has the id '" + id + "'");
  }
  for (const auto& [name, state] : store_.probes()) {
    if (found->matches(name, state.labels)) {
      store_.find(name)->addHistory(
          {now, "unsilenced", "silence " + id + " removed", actor.name, {}, {}});
    }
  }
  alerter_.silences().remove(id);
  if (db_) {
    db_->forgetSilence(id);
  }
  recordAction(actor, "unsilence", id, "", now);
  return {204, nullptr};
}

ActionResult Console::runNow(const Actor& actor, const std::string& probe) {
  ProbeState* state = store_.find(probe);
  if (state == nullptr || !hooks_.run_now || !hooks_.run_now(probe)) {
    return failure(404, "not_found", "no probe is named '" + probe + "'");
  }
  const WallTime now = std::chrono::system_clock::now();
  state->addHistory({now, "run", "run now", actor.name, {}, {}});
  recordAction(actor, "run", probe, "", now);
  return {202, {{"queued", true}}};
}

ActionResult Console::replay(const Actor& actor, const std::string& destination, std::int64_t id) {
  const WallTime now = std::chrono::system_clock::now();
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  if (!db_ || !db_->replay(destination, id, now_ms)) {
    return failure(404, "not_found",
                   "destination '" + destination + "' has no dead letter " + std::to_string(id));
  }
  recordAction(actor, "replay", destination, "dead letter " + std::to_string(id), now);
  if (hooks_.wake) {
    hooks_.wake();
  }
  return {202, {{"queued", true}}};
}

HttpResponse Console::handleApi(const HttpRequest& request, const Actor& actor) {
  HttpResponse response = route(request, actor);
  if (request.method == "HEAD") {
    response.body.clear();
  }
  return response;
}

HttpResponse Console::route(const HttpRequest& request, const Actor& actor) {
  const std::size_t question = request.target.find('?');
  const std::string_view path = std::string_view(request.target).substr(0, question);
  const std::string_view query = question == std::string::npos
                                     ? std::string_view()
                                     : std::string_view(request.target).substr(question + 1);
  const std::vector<std::string> s = pathSegments(path);
  if (s.size() < 2 || s[0] != "api" || s[1] != "v1") {
    return errorResponse(404, "not_found", "no such API path");
  }
  const std::size_t n = s.size();
  const std::string& method = request.method;
  const bool read = method == "GET" || method == "HEAD";

  // Which methods each path answers; everything else is a 405 naming them.
  std::string allow;
  if (n == 3 && (s[2] == "probes" || s[2] == "alerts" || s[2] == "outbox" || s[2] == "audit")) {
    allow = "GET, HEAD";
  } else if (n == 4 && s[2] == "probes") {
    allow = "GET, HEAD";
  } else if (n == 5 && s[2] == "probes" && s[4] == "run") {
    allow = "POST";
  } else if (n == 3 && (s[2] == "acknowledgements" || s[2] == "silences")) {
    allow = "GET, HEAD, POST";
  } else if (n == 4 && (s[2] == "acknowledgements" || s[2] == "silences")) {
    allow = "DELETE";
  } else if (n == 5 && s[2] == "outbox" && s[4] == "dead-letters") {
    allow = "GET, HEAD";
  } else if (n == 7 && s[2] == "outbox" && s[4] == "dead-letters" && s[6] == "replay") {
    allow = "POST";
  } else {
    return errorResponse(404, "not_found", "no such API path");
  }
  const bool allowed = [&allow, &method] {
    for (const std::string& word : splitList(allow)) {
      if (word.substr(word.find_first_not_of(' ')) == method) {
        return true;
      }
    }
    return false;
  }();
  if (!allowed) {
    HttpResponse refused =
        errorResponse(405, "method_not_allowed", "this path answers " + allow + " only");
    refused.allow = allow;
    return refused;
  }

  if (read) {
    if (s[2] == "probes" && n == 3) {
      HttpResponse listed = jsonResponse(200, nullptr);
      listed.body = probesText(ProbeQuery::fromQueryString(query));
      listed.body.push_back('\n');
      return listed;
    }
    if (s[2] == "probes") {
      const auto one = probe(s[3]);
      return one ? jsonResponse(200, *one)
                 : errorResponse(404, "not_found", "no probe is named '" + s[3] + "'");
    }
    if (s[2] == "alerts") {
      ProbeQuery problems;
      problems.hard_problems = true;
      HttpResponse listed = jsonResponse(200, nullptr);
      listed.body = probesText(problems);
      listed.body.push_back('\n');
      return listed;
    }
    if (s[2] == "acknowledgements") {
      return jsonResponse(200, acknowledgements());
    }
    if (s[2] == "silences") {
      return jsonResponse(200, silences());
    }
    if (s[2] == "audit") {
      std::int64_t limit = 100;
      const std::string text = queryValue(query, "limit");
      if (!text.empty()) {
        char* end = nullptr;
        limit = std::strtoll(text.c_str(), &end, 10);
        if (end == text.c_str() || *end != '\0' || limit < 1) {
          return errorResponse(400, "bad_request", "limit must be a positive integer");
        }
        limit = std::min<std::int64_t>(limit, ConsoleDb::kAuditKept);
      }
      return jsonResponse(200, audit(limit));
    }
    if (s[2] == "outbox" && n == 3) {
      return jsonResponse(200, outbox());
    }
    return jsonResponse(200, *deadLetters(s[3]));
  }

  // Writes: an operator on TCP, anyone who can open the local socket (its mode is the check).
  if (actor.via != "socket" && !request.is_operator) {
    if (request.user.empty()) {
      if (!endpoint_has_users_) {
        return errorResponse(403, "forbidden",
                             "this endpoint has no users, so nobody may act through it: add "
                             "basic_auth_users and user_roles: {NAME: operator} to the web "
                             "configuration file (agent.web_config_file), or use vigiectl on the "
                             "agent's host");
      }
      return errorResponse(401, "unauthorized", "authenticate as a user with the operator role");
    }
    return errorResponse(
        403, "forbidden",
        "user '" + request.user + "' may read but not act: give it the operator role (user_roles)");
  }
  if (actor.name.empty()) {
    return errorResponse(401, "unauthorized", "an action needs an author");
  }
  const bool needs_body = method == "POST" && (s[2] == "acknowledgements" || s[2] == "silences");
  nlohmann::json body;
  if (needs_body || !request.body.empty()) {
    const std::string_view type =
        std::string_view(request.content_type).substr(0, request.content_type.find(';'));
    std::string lowered(type);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!lowered.empty() && lowered.back() == ' ') {
      lowered.pop_back();
    }
    if (lowered != "application/json") {
      return errorResponse(415, "unsupported_media_type",
                           "send the body as Content-Type: application/json");
    }
    if (request.body.size() > kMaxBody) {
      return errorResponse(400, "bad_request", "body larger than 64 KiB");
    }
    body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded() || (needs_body && !body.is_object())) {
      return errorResponse(400, "bad_request", "the body is not a JSON object");
    }
  }
  const auto reply = [](const ActionResult& result) {
    return jsonResponse(result.http_status, result.body);
  };
  if (s[2] == "probes") {
    return reply(runNow(actor, s[3]));
  }
  if (s[2] == "acknowledgements" && method == "POST") {
    if (!body.contains("probe") || !body["probe"].is_string()) {
      return errorResponse(400, "bad_request", "probe (a string) is required");
    }
    if (body.contains("comment") && !body["comment"].is_string()) {
      return errorResponse(400, "bad_request", "comment must be a string");
    }
    return reply(acknowledge(actor, body["probe"].get<std::string>(), body.value("comment", "")));
  }
  if (s[2] == "acknowledgements") {
    return reply(unacknowledge(actor, s[3]));
  }
  if (s[2] == "silences" && method == "POST") {
    std::string error;
    const auto parsed = SilenceRequest::fromJson(body, error);
    if (!parsed) {
      return errorResponse(400, "bad_request", error);
    }
    return reply(silence(actor, *parsed));
  }
  if (s[2] == "silences") {
    return reply(unsilence(actor, s[3]));
  }
  char* end = nullptr;
  const std::int64_t id = std::strtoll(s[5].c_str(), &end, 10);
  if (end == s[5].c_str() || *end != '\0') {
    return errorResponse(404, "not_found", "no dead letter " + s[5]);
  }
  return reply(replay(actor, s[3], id));
}

}  // namespace vigie
