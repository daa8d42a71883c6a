// SPDX-License-Identifier: Apache-2.0
// vigiectl: the operator's command line for a running vigie-agent. It speaks the agent's JSON
// API (docs/API.md) over the local Unix socket, where the kernel tells the agent who is asking:
// the Unix user is the author of every action. Human tables by default (French, English when
// LANG says so), --json prints the API's answer as it is.
#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using nlohmann::json;

constexpr const char* kDefaultSocket = "/run/vigie/vigie.sock";
constexpr long kTimeoutSeconds = 30;

enum Exit { kOk = 0, kApiError = 1, kUsage = 2, kUnreachable = 3 };

bool english() {
  // The first of these that is set decides, as for gettext.
  for (const char* name : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') {
      return std::string_view(value).rfind("en", 0) == 0;
    }
  }
  return false;
}

const bool kEnglish = english();

/// The French text, or the English one when the locale is English.
const char* tr(const char* french, const char* english_text) {
  return kEnglish ? english_text : french;
}

constexpr const char* kUsageFr = R"(Usage : vigiectl [--socket CHEMIN] [--json] COMMANDE [ARGUMENTS]

Pilote l'agent vigie-agent en marche, par sa socket locale. L'utilisateur Unix est l'auteur des
actions.

Commandes :
  status [--status critical,warning...] [--label clé=valeur]... [--problems] [--names]
                                  les sondes, en échec d'abord
  show SONDE                      une sonde : état, derniers résultats, historique
  ack SONDE -m COMMENTAIRE        acquitter le problème d'une sonde
  unack SONDE                     retirer l'acquittement
  silence (SONDE | --label clé=valeur...) (--for DURÉE | --until DATE) [--start DATE]
          -m COMMENTAIRE          rendre muettes des sondes (DURÉE : 90s, 15m, 2h, 1d ;
                                  DATE : RFC 3339, ex. 2026-11-30T14:00:00+01:00)
  unsilence ID                    supprimer un silence
  silences                        les silences en cours ou à venir
  run SONDE                       lancer une sonde maintenant
  outbox [--names]                les files d'envoi des destinations
  dead-letters DESTINATION        les événements abandonnés d'une destination
  replay DESTINATION ID           renvoyer un événement abandonné

Options :
  --socket CHEMIN   socket de l'agent (défaut : $VIGIE_SOCKET, sinon /run/vigie/vigie.sock)
  --json            afficher la réponse JSON de l'API telle quelle
  --help            cette aide

Codes de sortie : 0 succès, 1 erreur de l'API, 2 mauvaise utilisation, 3 agent injoignable.
)";

constexpr const char* kUsageEn = R"(Usage: vigiectl [--socket PATH] [--json] COMMAND [ARGUMENTS]

Drives the running vigie-agent through its local socket. The Unix user is the author of the
actions.

Commands:
  status [--status critical,warning...] [--label key=value]... [--problems] [--names]
                                  the probes, failing first
  show PROBE                      one probe: state, last results, history
  ack PROBE -m COMMENT            acknowledge a probe's problem
  unack PROBE                     remove the acknowledgement
  silence (PROBE | --label key=value...) (--for DURATION | --until TIME) [--start TIME]
          -m COMMENT              silence probes (DURATION: 90s, 15m, 2h, 1d;
                                  TIME: RFC 3339, e.g. 2026-11-30T14:00:00+01:00)
  unsilence ID                    remove a silence
  silences                        the current and coming silences
  run PROBE                       run a probe now
  outbox [--names]                the destinations' delivery queues
  dead-letters DESTINATION        a destination's dead letters
  replay DESTINATION ID           send a dead letter again

Options:
  --socket PATH     the agent's socket (default: $VIGIE_SOCKET, else /run/vigie/vigie.sock)
  --json            print the API's JSON answer as it is
  --help            this help

Exit codes: 0 success, 1 API error, 2 usage error, 3 agent unreachable.
)";

struct UsageError {
  std::string message;
};

struct Unreachable {
  std::string message;
};

struct ApiError {
  std::string message;
};

struct Reply {
  long status = 0;
  std::string body;
};

struct Curl {
  CURL* handle = curl_easy_init();
  ~Curl() { curl_easy_cleanup(handle); }
};

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
};

std::size_t appendBody(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::string escape(const std::string& text) {
  Curl curl;
  char* escaped = curl_easy_escape(curl.handle, text.data(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

class Client {
 public:
  explicit Client(std::string socket) : socket_(std::move(socket)) {}

  Reply call(const std::string& method, const std::string& path,
             const std::optional<json>& body = std::nullopt) const {
    Curl curl;
    if (curl.handle == nullptr) {
      throw Unreachable{"curl_easy_init failed"};
    }
    Reply reply;
    HeaderList headers;
    std::string payload;
    const std::string url = "http://localhost" + path;
    curl_easy_setopt(curl.handle, CURLOPT_UNIX_SOCKET_PATH, socket_.c_str());
    curl_easy_setopt(curl.handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.handle, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl.handle, CURLOPT_ACCEPT_ENCODING, "");  // gzip for big lists
    curl_easy_setopt(curl.handle, CURLOPT_TIMEOUT, kTimeoutSeconds);
    curl_easy_setopt(curl.handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.handle, CURLOPT_WRITEFUNCTION, appendBody);
    curl_easy_setopt(curl.handle, CURLOPT_WRITEDATA, &reply.body);
    headers.list = curl_slist_append(headers.list, "Accept: application/json");
    if (body) {
      payload = body->dump();
      headers.list = curl_slist_append(headers.list, "Content-Type: application/json");
      curl_easy_setopt(curl.handle, CURLOPT_POSTFIELDS, payload.c_str());
      curl_easy_setopt(curl.handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    } else if (method == "HEAD") {
      curl_easy_setopt(curl.handle, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(curl.handle, CURLOPT_HTTPHEADER, headers.list);
    const CURLcode code = curl_easy_perform(curl.handle);
    if (code != CURLE_OK) {
      long os_errno = 0;
      curl_easy_getinfo(curl.handle, CURLINFO_OS_ERRNO, &os_errno);
      const std::string cause =
          os_errno != 0 ? std::strerror(static_cast<int>(os_errno)) : curl_easy_strerror(code);
      throw Unreachable{std::string(tr("impossible de joindre l'agent par la socket ",
                                       "cannot reach the agent through the socket ")) +
                        socket_ + ": " + cause + "\n" +
                        tr("L'agent tourne-t-il ? Voir : systemctl status vigie-agent",
                           "Is the agent running? See: systemctl status vigie-agent")};
    }
    curl_easy_getinfo(curl.handle, CURLINFO_RESPONSE_CODE, &reply.status);
    if (reply.status >= 400) {
      throw ApiError{errorText(reply)};
    }
    return reply;
  }

  json get(const std::string& path) const { return parse(call("GET", path)); }

  static json parse(const Reply& reply) {
    try {
      return reply.body.empty() ? json() : json::parse(reply.body);
    } catch (const json::parse_error& e) {
      throw ApiError{
          std::string(tr("réponse illisible de l'agent : ", "unreadable answer from the agent: ")) +
          e.what()};
    }
  }

 private:
  static std::string errorText(const Reply& reply) {
    std::string text = "HTTP " + std::to_string(reply.status);
    try {
      const json body = json::parse(reply.body);
      const json& error = body.at("error");
      return error.value("message", "") + " (" + text + " " + error.value("code", "") + ")";
    } catch (const json::exception&) {
      // Not the API's error object (an agent without the API, a proxy): its text as it is.
      std::string plain = reply.body.substr(0, 500);
      while (!plain.empty() && (plain.back() == '\n' || plain.back() == '\r')) {
        plain.pop_back();
      }
      return text + (plain.empty() ? "" : ": " + plain);
    }
  }

  std::string socket_;
};

// ---- tables ----

/// Characters on screen: UTF-8 continuation bytes take no column.
std::size_t displayWidth(std::string_view text) {
  std::size_t width = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++width;
    }
  }
  return width;
}

/// Aligned columns, two spaces apart; the last one is not padded.
void printTable(const std::vector<std::string>& headers,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) {
    widths[i] = displayWidth(headers[i]);
  }
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], displayWidth(row[i]));
    }
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) {
        line.append(widths[i] - displayWidth(cells[i]) + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    std::cout << line << "\n";
  };
  print_row(headers);
  for (const auto& row : rows) {
    print_row(row);
  }
}

std::string str(const json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end() || found->is_null()) {
    return "";
  }
  if (found->is_string()) {
    return found->get<std::string>();
  }
  return found->dump();
}

/// "30/11/2026 03:41:10" from a *_local field (its zone is said once, in the header line).
std::string localTime(const json& object, const std::string& key) {
  std::string local = str(object, (key + "_local").c_str());
  if (local.empty()) {
    local = str(object, key.c_str());
  }
  return local.substr(0, 19);
}

/// The list's time, in UTC (the document has no local twin for it).
std::string generatedAt(const json& list) {
  std::string at = str(list, "generated_at").substr(0, 19);
  if (at.size() > 10 && at[10] == 'T') {
    at[10] = ' ';
  }
  return at + " UTC";
}

std::string statusWord(const std::string& status) {
  static const std::map<std::string, std::pair<const char*, const char*>> kWords = {
      {"ok", {"OK", "OK"}},
      {"warning", {"AVERTISSEMENT", "WARNING"}},
      {"critical", {"CRITIQUE", "CRITICAL"}},
      {"unknown", {"INCONNU", "UNKNOWN"}},
      {"pending", {"EN ATTENTE", "PENDING"}}};
  const auto found = kWords.find(status);
  return found == kWords.end() ? status : tr(found->second.first, found->second.second);
}

std::string flags(const json& probe) {
  std::vector<std::string> out;
  if (probe.contains("acknowledgement") && !probe["acknowledgement"].is_null()) {
    out.push_back(tr("acquittée", "acknowledged"));
  }
  if (probe.contains("silence") && !probe["silence"].is_null()) {
    out.push_back(tr("silence", "silenced"));
  }
  if (probe.value("in_maintenance", false)) {
    out.push_back("maintenance");
  }
  if (probe.value("unreachable", false)) {
    out.push_back(tr("injoignable", "unreachable"));
  }
  if (probe.value("flapping", false)) {
    out.push_back(tr("instable", "flapping"));
  }
  std::string joined;
  for (const auto& flag : out) {
    joined += (joined.empty() ? "" : ",") + flag;
  }
  return joined.empty() ? "-" : joined;
}

std::string stateType(const json& probe) {
  const std::string type = str(probe, "state_type");
  if (type == "soft" && probe.value("status", "") != "ok") {
    return "SOFT " + str(probe, "attempt") + "/" + str(probe, "max_attempts");
  }
  return type == "hard" ? "HARD" : (type == "soft" ? "SOFT" : type);
}

// ---- commands ----

struct Args {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;  ///< --name value
  std::vector<std::string> switches;                ///< --name

  bool has(const std::string& name) const {
    return std::find(switches.begin(), switches.end(), name) != switches.end();
  }
  std::optional<std::string> one(const std::string& name) const {
    const auto found = options.find(name);
    if (found == options.end()) {
      return std::nullopt;
    }
    if (options.count(name) > 1) {
      throw UsageError{name + tr(" donné plusieurs fois", " given more than once")};
    }
    return found->second;
  }
  std::vector<std::string> all(const std::string& name) const {
    std::vector<std::string> values;
    for (auto [it, end] = options.equal_range(name); it != end; ++it) {
      values.push_back(it->second);
    }
    return values;
  }
};

/// Splits the command's arguments; `with_value` are the options that take one.
Args parseArgs(const std::vector<std::string>& raw, const std::vector<std::string>& with_value,
               const std::vector<std::string>& switches) {
  Args args;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    std::string arg = raw[i];
    if (arg == "-m") {
      arg = "--comment";
    }
    if (arg.rfind("-", 0) != 0 || arg == "-") {
      args.positional.push_back(arg);
      continue;
    }
    std::optional<std::string> inline_value;
    if (const std::size_t equals = arg.find('='); equals != std::string::npos) {
      inline_value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    }
    if (std::find(with_value.begin(), with_value.end(), arg) != with_value.end()) {
      if (!inline_value) {
        if (i + 1 >= raw.size()) {
          throw UsageError{arg + tr(" attend une valeur", " needs a value")};
        }
        inline_value = raw[++i];
      }
      args.options.emplace(arg, *inline_value);
    } else if (!inline_value &&
               std::find(switches.begin(), switches.end(), arg) != switches.end()) {
      args.switches.push_back(arg);
    } else {
      throw UsageError{tr("option inconnue : ", "unknown option: ") + arg};
    }
  }
  return args;
}

void expectPositional(const Args& args, std::size_t count, const char* what) {
  if (args.positional.size() != count) {
    throw UsageError{std::string(tr("attendu : ", "expected: ")) + what};
  }
}

std::pair<std::string, std::string> labelPair(const std::string& text) {
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw UsageError{tr("--label attend clé=valeur, reçu : ", "--label expects key=value, got: ") +
                     text};
  }
  return {text.substr(0, equals), text.substr(equals + 1)};
}

std::string requireComment(const Args& args) {
  const auto comment = args.one("--comment");
  if (!comment || comment->empty()) {
    throw UsageError{
        tr("un commentaire est requis : -m COMMENTAIRE", "a comment is required: -m COMMENT")};
  }
  return *comment;
}

struct Context {
  Client client;
  bool json_output = false;
};

/// Prints the answer of an action: its JSON with --json, else `done`.
int actionDone(const Context& ctx, const Reply& reply, const std::string& done) {
  if (ctx.json_output) {
    if (!reply.body.empty()) {
      std::cout << reply.body << (reply.body.back() == '\n' ? "" : "\n");
    }
  } else {
    std::cout << done << "\n";
  }
  return kOk;
}

int printRaw(const Reply& reply) {
  std::cout << reply.body << (!reply.body.empty() && reply.body.back() == '\n' ? "" : "\n");
  return kOk;
}

int cmdStatus(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {"--status", "--label", "--grep"}, {"--problems", "--names"});
  expectPositional(args, 0, "status [--status ...] [--label clé=valeur]...");
  std::string query;
  auto add = [&query](const std::string& key, const std::string& value) {
    query += (query.empty() ? "?" : "&") + escape(key) + "=" + escape(value);
  };
  if (const auto status = args.one("--status")) {
    add("status", *status);
  }
  for (const std::string& label : args.all("--label")) {
    const auto [key, value] = labelPair(label);
    add("label." + key, value);
  }
  if (const auto text = args.one("--grep")) {
    add("q", *text);
  }
  if (args.has("--problems")) {
    add("problems", "1");
  }
  const Reply reply = ctx.client.call("GET", "/api/v1/probes" + query);
  if (ctx.json_output) {
    return printRaw(reply);
  }
  const json list = Client::parse(reply);
  if (args.has("--names")) {
    for (const json& probe : list.value("probes", json::array())) {
      std::cout << str(probe, "name") << "\n";
    }
    return kOk;
  }
  const json counts = list.value("counts", json::object());
  std::cout << tr("Agent ", "Agent ") << str(list, "agent") << " — " << generatedAt(list) << " ("
            << str(list, "timezone") << ") — " << counts.value("critical", 0) << " "
            << tr("critique(s)", "critical") << ", " << counts.value("warning", 0) << " "
            << tr("avertissement(s)", "warning") << ", " << counts.value("unknown", 0) << " "
            << tr("inconnu(s)", "unknown") << ", " << counts.value("ok", 0) << " OK, "
            << counts.value("pending", 0) << " " << tr("en attente", "pending") << "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const json& probe : list.value("probes", json::array())) {
    rows.push_back({str(probe, "name"), statusWord(str(probe, "status")), stateType(probe),
                    localTime(probe, "since"), flags(probe), str(probe, "message")});
  }
  printTable({tr("SONDE", "PROBE"), tr("ÉTAT", "STATUS"), "TYPE", tr("DEPUIS", "SINCE"),
              tr("MARQUES", "FLAGS"), "MESSAGE"},
             rows);
  return kOk;
}

int cmdShow(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {}, {});
  expectPositional(args, 1, tr("show SONDE", "show PROBE"));
  const Reply reply = ctx.client.call("GET", "/api/v1/probes/" + escape(args.positional[0]));
  if (ctx.json_output) {
    return printRaw(reply);
  }
  const json probe = Client::parse(reply);
  std::string labels;
  // A named copy: items() of a temporary would dangle in the loop.
  const json label_map = probe.value("labels", json::object());
  for (const auto& [key, value] : label_map.items()) {
    labels += (labels.empty() ? "" : " ") + key + "=" +
              (value.is_string() ? value.get<std::string>() : value.dump());
  }
  std::vector<std::pair<std::string, std::string>> lines = {
      {tr("Sonde", "Probe"), str(probe, "name")},
      {"Type", str(probe, "type")},
      {tr("Étiquettes", "Labels"), labels},
      {tr("État", "Status"), statusWord(str(probe, "status")) + " " + stateType(probe)},
      {tr("Depuis", "Since"), localTime(probe, "since")},
      {tr("Dernier passage", "Last run"), localTime(probe, "last_run_at")},
      {tr("Raison", "Reason"), str(probe, "reason")},
      {"Message", str(probe, "message")},
      {tr("Marques", "Flags"), flags(probe)},
  };
  if (probe.contains("acknowledgement") && probe["acknowledgement"].is_object()) {
    const json& ack = probe["acknowledgement"];
    lines.emplace_back(
        tr("Acquittée par", "Acknowledged by"),
        str(ack, "author") + " (" + localTime(ack, "at") + ") : " + str(ack, "comment"));
  }
  if (probe.contains("silence") && probe["silence"].is_object()) {
    const json& silence = probe["silence"];
    lines.emplace_back(tr("Silence", "Silenced"),
                       "#" + str(silence, "id") + tr(" jusqu'au ", " until ") +
                           localTime(silence, "ends_at") + ", " + str(silence, "author") + " : " +
                           str(silence, "comment"));
  }
  for (const auto& [key, label] : {std::pair{"runbook_url", tr("Procédure", "Runbook")},
                                   std::pair{"instructions", tr("Consignes", "Instructions")},
                                   std::pair{"excerpt", tr("Extrait", "Excerpt")}}) {
    if (!str(probe, key).empty()) {
      lines.emplace_back(label, str(probe, key));
    }
  }
  std::size_t width = 0;
  for (const auto& line : lines) {
    width = std::max(width, displayWidth(line.first));
  }
  for (const auto& [label, value] : lines) {
    std::cout << label << std::string(width - displayWidth(label) + 2, ' ') << value << "\n";
  }
  std::vector<std::vector<std::string>> results;
  for (const json& result : probe.value("results", json::array())) {
    std::ostringstream duration;
    duration.precision(3);
    duration << std::fixed << result.value("duration_seconds", 0.0);
    results.push_back({localTime(result, "at"), statusWord(str(result, "status")), duration.str(),
                       str(result, "reason"), str(result, "message")});
  }
  if (!results.empty()) {
    std::cout << "\n" << tr("Derniers résultats :", "Last results:") << "\n";
    printTable({tr("HEURE", "TIME"), tr("ÉTAT", "STATUS"), tr("DURÉE (s)", "DURATION (s)"),
                tr("RAISON", "REASON"), "MESSAGE"},
               results);
  }
  std::vector<std::vector<std::string>> history;
  for (const json& entry : probe.value("history", json::array())) {
    history.push_back(
        {localTime(entry, "at"), str(entry, "kind"), str(entry, "author"), str(entry, "text")});
  }
  if (!history.empty()) {
    std::cout << "\n" << tr("Historique :", "History:") << "\n";
    printTable({tr("HEURE", "TIME"), tr("QUOI", "WHAT"), tr("AUTEUR", "AUTHOR"), "TEXTE"}, history);
  }
  return kOk;
}

int cmdAck(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {"--comment"}, {});
  expectPositional(args, 1, tr("ack SONDE -m COMMENTAIRE", "ack PROBE -m COMMENT"));
  const json body = {{"probe", args.positional[0]}, {"comment", requireComment(args)}};
  const Reply reply = ctx.client.call("POST", "/api/v1/acknowledgements", body);
  return actionDone(ctx, reply, tr("Acquittée : ", "Acknowledged: ") + args.positional[0]);
}

int cmdUnack(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {}, {});
  expectPositional(args, 1, tr("unack SONDE", "unack PROBE"));
  const Reply reply =
      ctx.client.call("DELETE", "/api/v1/acknowledgements/" + escape(args.positional[0]));
  return actionDone(ctx, reply,
                    tr("Acquittement retiré : ", "Acknowledgement removed: ") + args.positional[0]);
}

int cmdSilence(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {"--label", "--for", "--until", "--start", "--comment"}, {});
  const auto labels = args.all("--label");
  if (args.positional.size() > 1 || (args.positional.empty() == labels.empty())) {
    throw UsageError{tr("silence : une SONDE ou des --label clé=valeur, pas les deux",
                        "silence: a PROBE or --label key=value, not both")};
  }
  const auto duration = args.one("--for");
  const auto until = args.one("--until");
  if (duration.has_value() == until.has_value()) {
    throw UsageError{tr("silence : --for DURÉE ou --until DATE",
                        "silence: --for DURATION or "
                        "--until TIME")};
  }
  json body = {{"comment", requireComment(args)}};
  if (!args.positional.empty()) {
    body["probe"] = args.positional[0];
  } else {
    json matchers = json::object();
    for (const std::string& label : labels) {
      const auto [key, value] = labelPair(label);
      matchers[key] = value;
    }
    body["labels"] = matchers;
  }
  if (duration) {
    body["duration"] = *duration;
  } else {
    body["ends_at"] = *until;
  }
  if (const auto start = args.one("--start")) {
    body["starts_at"] = *start;
  }
  const Reply reply = ctx.client.call("POST", "/api/v1/silences", body);
  if (ctx.json_output) {
    return printRaw(reply);
  }
  const json silence = Client::parse(reply);
  std::cout << tr("Silence #", "Silence #") << str(silence, "id") << tr(" jusqu'au ", " until ")
            << localTime(silence, "ends_at") << " ("
            << silence.value("probes", json::array()).size()
            << tr(" sonde(s) concernée(s))", " probe(s) matched)") << "\n";
  return kOk;
}

int cmdUnsilence(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {}, {});
  expectPositional(args, 1, "unsilence ID");
  const Reply reply = ctx.client.call("DELETE", "/api/v1/silences/" + escape(args.positional[0]));
  return actionDone(ctx, reply,
                    tr("Silence supprimé : #", "Silence removed: #") + args.positional[0]);
}

std::string silenceTarget(const json& silence) {
  if (!str(silence, "probe").empty()) {
    return str(silence, "probe");
  }
  std::string target;
  const json label_map = silence.value("labels", json::object());
  for (const auto& [key, value] : label_map.items()) {
    target += (target.empty() ? "" : ",") + key + "=" +
              (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return target;
}

int cmdSilences(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {}, {});
  expectPositional(args, 0, "silences");
  const Reply reply = ctx.client.call("GET", "/api/v1/silences");
  if (ctx.json_output) {
    return printRaw(reply);
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& silence : Client::parse(reply)) {
    rows.push_back({str(silence, "id"), silenceTarget(silence), localTime(silence, "starts_at"),
                    localTime(silence, "ends_at"),
                    silence.value("active", false) ? tr("oui", "yes") : tr("non", "no"),
                    str(silence, "author"), str(silence, "comment")});
  }
  printTable({"ID", tr("CIBLE", "TARGET"), tr("DÉBUT", "START"), tr("FIN", "END"),
              tr("ACTIF", "ACTIVE"), tr("AUTEUR", "AUTHOR"), tr("COMMENTAIRE", "COMMENT")},
             rows);
  return kOk;
}

int cmdRun(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {}, {});
  expectPositional(args, 1, tr("run SONDE", "run PROBE"));
  const Reply reply =
      ctx.client.call("POST", "/api/v1/probes/" + escape(args.positional[0]) + "/run");
  return actionDone(ctx, reply, tr("Lancée : ", "Queued: ") + args.positional[0]);
}

int cmdOutbox(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {}, {"--names"});
  expectPositional(args, 0, "outbox");
  const Reply reply = ctx.client.call("GET", "/api/v1/outbox");
  if (ctx.json_output) {
    return printRaw(reply);
  }
  const json outbox = Client::parse(reply);
  std::vector<std::vector<std::string>> rows;
  for (const json& destination : outbox.value("destinations", json::array())) {
    if (args.has("--names")) {
      std::cout << str(destination, "name") << "\n";
      continue;
    }
    rows.push_back({str(destination, "name"), str(destination, "type"), str(destination, "pending"),
                    localTime(destination, "oldest_pending_at"), str(destination, "dead_letters"),
                    str(destination, "last_error")});
  }
  if (!args.has("--names")) {
    printTable({"DESTINATION", "TYPE", tr("EN ATTENTE", "PENDING"), tr("PLUS ANCIEN", "OLDEST"),
                tr("ABANDONNÉS", "DEAD LETTERS"), tr("DERNIÈRE ERREUR", "LAST ERROR")},
               rows);
  }
  return kOk;
}

int cmdDeadLetters(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {}, {});
  expectPositional(args, 1, "dead-letters DESTINATION");
  const Reply reply =
      ctx.client.call("GET", "/api/v1/outbox/" + escape(args.positional[0]) + "/dead-letters");
  if (ctx.json_output) {
    return printRaw(reply);
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& letter : Client::parse(reply)) {
    rows.push_back({str(letter, "id"), str(letter, "probe"), str(letter, "action"),
                    localTime(letter, "created_at"), str(letter, "attempts"),
                    str(letter, "last_error")});
  }
  printTable({"ID", tr("SONDE", "PROBE"), "ACTION", tr("CRÉÉ", "CREATED"), tr("ESSAIS", "ATTEMPTS"),
              tr("DERNIÈRE ERREUR", "LAST ERROR")},
             rows);
  return kOk;
}

int cmdReplay(const Context& ctx, const std::vector<std::string>& raw) {
  const Args args = parseArgs(raw, {}, {});
  expectPositional(args, 2, "replay DESTINATION ID");
  const Reply reply = ctx.client.call("POST",
                                      "/api/v1/outbox/" + escape(args.positional[0]) +
                                          "/dead-letters/" + escape(args.positional[1]) + "/replay",
                                      json());
  return actionDone(ctx, reply, tr("Renvoyé : ", "Replayed: ") + args.positional[1]);
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage = tr(kUsageFr, kUsageEn);
  std::string socket = kDefaultSocket;
  if (const char* env = std::getenv("VIGIE_SOCKET"); env != nullptr && *env != '\0') {
    socket = env;
  }
  bool json_output = false;
  std::string command;
  std::vector<std::string> rest;
  // Global options before or after the command.
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else if (arg.rfind("--socket=", 0) == 0) {
      socket = arg.substr(std::strlen("--socket="));
    } else if (arg == "--json") {
      json_output = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return kOk;
    } else if (command.empty() && arg.rfind("-", 0) != 0) {
      command = arg;
    } else {
      rest.push_back(arg);
    }
  }
  using Command = int (*)(const Context&, const std::vector<std::string>&);
  const std::map<std::string, Command> commands = {
      {"status", cmdStatus},     {"show", cmdShow},
      {"ack", cmdAck},           {"unack", cmdUnack},
      {"silence", cmdSilence},   {"unsilence", cmdUnsilence},
      {"silences", cmdSilences}, {"run", cmdRun},
      {"outbox", cmdOutbox},     {"dead-letters", cmdDeadLetters},
      {"replay", cmdReplay}};
  const auto found = commands.find(command);
  if (found == commands.end()) {
    if (!command.empty()) {
      std::cerr << "vigiectl: " << tr("commande inconnue : ", "unknown command: ") << command
                << "\n";
    }
    std::cerr << usage;
    return kUsage;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int status = kOk;
  try {
    status = found->second(Context{Client(socket), json_output}, rest);
  } catch (const UsageError& e) {
    std::cerr << "vigiectl: " << e.message << "\n"
              << tr("Voir : vigiectl --help", "See: vigiectl --help") << "\n";
    status = kUsage;
  } catch (const ApiError& e) {
    std::cerr << "vigiectl: " << e.message << "\n";
    status = kApiError;
  } catch (const Unreachable& e) {
    std::cerr << "vigiectl: " << e.message << "\n";
    status = kUnreachable;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "vigiectl: "
              << tr("réponse inattendue de l'agent : ", "unexpected answer from the agent: ")
              << e.what() << "\n";
    status = kApiError;
  }
  curl_global_cleanup();
  return status;
}
