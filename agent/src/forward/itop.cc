// SPDX-License-Identifier: Apache-2.0
#include "forward/itop.h"

#include <curl/curl.h>

#include <memory>

#include "util/html_escape.h"
#include "util/json_depth.h"
#include "util/log.h"

namespace vigie {

namespace {

// Messages of iTop's code 100 that name a value of our configuration (organization, caller,
// service, resolution code, ticket or CI class): no event is at fault, so none is dropped.
const char* const kConfigurationMessages[] = {
    "org_id",          "caller_id", "service_id", "resolution_code", "is not a valid class",
    "Expecting an OQL"};

// Messages of iTop's code 100 that retrying cannot fix.
const char* const kPermanentMessages[] = {
    "Missing mandatory", "Invalid stimulus",  "No item found", "Several items found",
    "Missing parameter", "Unknown attribute", "Invalid value"};

std::string oqlQuoted(const std::string& value) {
  std::string quoted = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  return quoted + "\"";
}

std::string marker(const std::string& dedup_key) {
  std::string text = "[VIGIE:";
  text.append(dedup_key).append("]");
  return text;
}

// Truncates at a UTF-8 character boundary.
std::string truncated(std::string text, std::size_t limit) {
  if (text.size() <= limit) {
    return text;
  }
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  text.resize(cut);
  return text;
}

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};

std::string urlEncoded(const std::string& text) {
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  char* escaped = curl_easy_escape(easy.get(), text.data(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

struct Request {
  HttpTarget target;
  std::string url;
  std::string body;
  std::vector<std::string> headers;
};

Request makeRequest(const ItopTarget& itop, const std::string& url,
                    const nlohmann::json& operation) {
  Request request;
  request.target = itop;
  request.url = url + (url.find('?') == std::string::npos ? "?" : "&") + "version=" + itop.version;
  request.body = "json_data=" + urlEncoded(operation.dump());
  request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  if (itop.auth == "form") {
    request.body.append("&auth_user=").append(urlEncoded(itop.username));
    request.body.append("&auth_pwd=").append(urlEncoded(itop.password));
    request.target.username.clear();  // no HTTP Basic on top of the form fields
  }
  return request;
}

struct Answer {
  Classified classified;
  nlohmann::json body;
};

asio::awaitable<Answer> call(const ItopTarget& itop, const std::string& url,
                             const nlohmann::json& operation) {
  const Request request = makeRequest(itop, url, operation);
  const HttpReply reply =
      co_await httpPost(request.target, request.url, request.body, request.headers);
  Answer answer;
  // Too deep to be iTop's answer: unreadable, like any other body that is not its JSON.
  answer.body = jsonNestedDeeperThan(reply.body)
                    ? nlohmann::json(nlohmann::json::value_t::discarded)
                    : nlohmann::json::parse(reply.body, nullptr, false);
  answer.classified = classifyItop(reply, answer.body);
  co_return answer;
}

// The first object of an answer: {"Incident::12": {"key": 12, "fields": {...}}}.
std::optional<TicketRef> firstObject(const nlohmann::json& body, std::size_t* count = nullptr) {
  if (count != nullptr) {
    *count = 0;
  }
  if (!body.is_object() || !body.contains("objects") || !body["objects"].is_object() ||
      body["objects"].empty()) {
    return std::nullopt;
  }
  if (count != nullptr) {
    *count = body["objects"].size();
  }
  const auto& object = body["objects"].begin().value();
  TicketRef ref;
  const auto& key = object.contains("key") ? object["key"] : object["fields"]["id"];
  ref.id = key.is_string() ? std::stoll(key.get<std::string>()) : key.get<std::int64_t>();
  if (object.contains("fields") && object["fields"].contains("ref")) {
    ref.ref = object["fields"]["ref"].get<std::string>();
  }
  return ref;
}

// Built outside the coroutines: GCC 12 miscompiles some braced initialisers inside them.
Classified delivered() { return {Outcome::Delivered, "", ""}; }
Classified unreadable() {
  return {Outcome::Retryable, "itop_not_json", "an answer without the object it created"};
}
Answer refused() {
  Answer answer;
  answer.classified = {Outcome::Permanent, "", ""};
  return answer;
}

// The status of the first object of an answer, empty when it has none.
std::string ticketStatus(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("objects") || !body["objects"].is_object() ||
      body["objects"].empty()) {
    return "";
  }
  const auto& object = body["objects"].begin().value();
  if (!object.contains("fields") || !object["fields"].contains("status") ||
      !object["fields"]["status"].is_string()) {
    return "";
  }
  return object["fields"]["status"].get<std::string>();
}

// What the configuration names in iTop, and the core/get that finds it.
struct Reference {
  std::string key;
  std::string iclass;
  std::string value;
  bool must_match;  ///< a value naming objects (organization...), not just a class
  nlohmann::json lookup;
};

Reference makeReference(std::string key, std::string iclass, std::string value, bool must_match) {
  Reference made{std::move(key), std::move(iclass), std::move(value), must_match, {}};
  made.lookup = {{"operation", "core/get"},
                 {"class", made.iclass},
                 {"key", made.value},
                 {"output_fields", "id"}};
  return made;
}

std::vector<Reference> referencesOf(const ItopTarget& target) {
  std::vector<Reference> references;
  references.push_back(makeReference("organization", "Organization", target.organization, true));
  if (!target.caller.empty()) {
    references.push_back(makeReference("caller", "Person", target.caller, true));
  }
  if (!target.service.empty()) {
    references.push_back(makeReference("service", "Service", target.service, true));
  }
  references.push_back(makeReference("class", target.ticket_class,
                                     "SELECT " + target.ticket_class + " WHERE id = 0", false));
  references.push_back(makeReference("ci_class", target.ci_class,
                                     "SELECT " + target.ci_class + " WHERE id = 0", false));
  return references;
}

std::string commentFor(const std::string& agent, const OutboxEvent& event) {
  std::string comment = "vigie-agent@";
  comment.append(agent).append(" event ").append(event.event_id).append(" (");
  comment.append(event.action).append(", dedup ").append(event.dedup_key).append(")");
  return comment;
}

std::string logLine(const nlohmann::json& event) {
  std::string line = event.value("occurred_at", "");
  line.append(" ").append(event.value("action", "")).append(" ");
  line.append(event.value("severity", "")).append(" : ").append(event.value("summary", ""));
  if (event.value("reassertion", false)) {
    line.append(" (toujours en cours)");
  }
  return line;
}

}  // namespace

Classified classifyItop(const HttpReply& reply, const nlohmann::json& body) {
  Classified http = classify(reply);
  if (http.outcome != Outcome::Delivered) {
    return http;
  }
  if (body.is_discarded() || !body.is_object() || !body.contains("code")) {
    http.outcome = Outcome::Retryable;  // a proxy page or a PHP fatal error
    http.reason = "itop_not_json";
    http.detail = "HTTP " + std::to_string(reply.status) + " with a body that is not iTop's JSON";
    return http;
  }
  const int code = body["code"].is_number() ? body["code"].get<int>() : -1;
  Classified result;
  // iTop answers "message": null on success.
  const auto message = body.find("message");
  if (message != body.end() && message->is_string()) {
    result.detail = message->get<std::string>();
  }
  if (result.detail.empty()) {
    result.detail = "code " + std::to_string(code);
  }
  if (code == 0) {
    result.outcome = Outcome::Delivered;
    result.detail.clear();
    return result;
  }
  if (code == 1) {
    // Code 1 is both a bad login and "not enough permissions for <operation> of class X".
    const bool login = result.detail.find("login") != std::string::npos ||
                       result.detail.find("Login") != std::string::npos;
    result.outcome = login ? Outcome::Auth : Outcome::Config;
    result.reason = login ? "auth" : "itop_permission";
    return result;
  }
  if (code == 100) {
    for (const char* mistake : kConfigurationMessages) {
      if (result.detail.find(mistake) != std::string::npos) {
        result.outcome = Outcome::Config;
        result.reason = "itop_config";
        return result;
      }
    }
    for (const char* permanent : kPermanentMessages) {
      if (result.detail.find(permanent) != std::string::npos) {
        result.outcome = Outcome::Permanent;
        result.reason = "itop_invalid";
        return result;
      }
    }
    result.outcome = Outcome::Retryable;
    result.reason = "itop_internal";
    return result;
  }
  result.outcome = Outcome::Permanent;
  result.reason = "itop_invalid";
  return result;
}

nlohmann::json itopCreate(const ItopTarget& target, const nlohmann::json& event,
                          const std::string& comment, bool link_ci) {
  const std::string severity = event.value("severity", "critical");
  const auto mapped =
      target.severity_map.count(severity) != 0 ? target.severity_map.at(severity) : std::pair{2, 2};
  std::string title = marker(event.value("dedup_key", "")) + " " + event.value("summary", "");
  std::string description = "<p>" + htmlEscape(event.value("summary", "")) + "</p><p>" +
                            htmlEscape(event.value("description", "")) + "</p>";
  const std::string ci = event.contains("resource") ? event["resource"].value("ci_name", "") : "";
  if (!link_ci && !ci.empty()) {
    description += "<p>CI : " + htmlEscape(ci) + "</p>";
  }
  if (event.value("action", "") == "resolve") {
    description +=
        "<p>Alerte déclenchée puis rétablie pendant une interruption de la "
        "transmission.</p>";
  }
  nlohmann::json fields{{"org_id", target.organization},
                        {"title", truncated(title, 255)},
                        {"description", description},
                        {"impact", std::to_string(mapped.first)},
                        {"urgency", std::to_string(mapped.second)}};
  if (target.ticket_class == "Incident") {
    fields["origin"] = "monitoring";
  }
  if (!target.caller.empty()) {
    fields["caller_id"] = target.caller;
  }
  if (!target.service.empty()) {
    fields["service_id"] = target.service;
  }
  if (link_ci) {
    fields["functionalcis_list"] = nlohmann::json::array(
        {{{"functionalci_id", "SELECT " + target.ci_class + " WHERE name = " + oqlQuoted(ci)},
          {"impact_code", "manual"}}});
  }
  return {{"operation", "core/create"},
          {"comment", comment},
          {"class", target.ticket_class},
          {"output_fields", "id, ref, status"},
          {"fields", fields}};
}

nlohmann::json itopLog(const ItopTarget& target, std::int64_t ticket, const std::string& message,
                       const std::string& comment) {
  return {
      {"operation", "core/update"},
      {"comment", comment},
      {"class", target.ticket_class},
      {"key", ticket},
      {"output_fields", "id, status"},
      {"fields", {{"private_log", {{"add_item", {{"message", message}, {"format", "text"}}}}}}}};
}

nlohmann::json itopAutoresolve(const ItopTarget& target, std::int64_t ticket,
                               const std::string& solution, const std::string& comment) {
  nlohmann::json fields{{"solution", solution}, {"resolution_code", target.resolution_code}};
  if (!target.service.empty()) {
    fields["service_id"] = target.service;
  }
  return {{"operation", "core/apply_stimulus"},
          {"comment", comment},
          {"class", target.ticket_class},
          {"key", ticket},
          {"stimulus", "ev_autoresolve"},
          {"output_fields", "id, status"},
          {"fields", fields}};
}

nlohmann::json itopFindByMarker(const ItopTarget& target, const std::string& dedup_key) {
  // A hex key has no LIKE wildcard; the brackets are literal in OQL.
  return {{"operation", "core/get"},
          {"class", target.ticket_class},
          {"key", "SELECT " + target.ticket_class + " WHERE title LIKE '" + marker(dedup_key) +
                      "%' AND status NOT IN ('resolved','closed','rejected')"},
          {"output_fields", "id, ref, status"}};
}

nlohmann::json itopFindCi(const ItopTarget& target, const std::string& ci_name) {
  return {{"operation", "core/get"},
          {"class", target.ci_class},
          {"key", "SELECT " + target.ci_class + " WHERE name = " + oqlQuoted(ci_name)},
          {"output_fields", "id"}};
}

nlohmann::json itopGetTicket(const ItopTarget& target, std::int64_t ticket) {
  return {{"operation", "core/get"},
          {"class", target.ticket_class},
          {"key", ticket},
          {"output_fields", "id, ref, status"}};
}

bool itopTicketFinal(const std::string& status) {
  // rejected: a UserRequest refused by its approver, final like closed.
  return status == "gone" || status == "resolved" || status == "closed" || status == "rejected";
}

ItopAdapter::ItopAdapter(ItopTarget target, std::string url, std::string destination,
                         Outbox& outbox, std::string agent)
    : target_(std::move(target)),
      url_(std::move(url)),
      destination_(std::move(destination)),
      outbox_(outbox),
      agent_(std::move(agent)) {}

asio::awaitable<Classified> ItopAdapter::lookUpCi(const std::string& ci, bool& link) {
  const auto cached = ci_cache_.find(ci);
  if (cached != ci_cache_.end() && Clock::now() - cached->second.at < target_.ci_cache_ttl) {
    link = cached->second.link;
    co_return delivered();
  }
  Answer lookup = co_await call(target_, url_, itopFindCi(target_, ci));
  if (lookup.classified.outcome != Outcome::Delivered) {
    co_return lookup.classified;
  }
  std::size_t count = 0;
  firstObject(lookup.body, &count);
  link = count == 1;
  CiLookup entry;
  entry.link = link;
  entry.at = Clock::now();
  ci_cache_[ci] = entry;
  co_return delivered();
}

asio::awaitable<Classified> ItopAdapter::checkOpen(const std::string& key,
                                                   std::optional<TicketRef>& ticket) {
  Answer got = co_await call(target_, url_, itopGetTicket(target_, ticket->id));
  if (got.classified.outcome != Outcome::Delivered) {
    co_return got.classified;
  }
  std::size_t found = 0;
  firstObject(got.body, &found);
  const std::string status = found == 0 ? "gone" : ticketStatus(got.body);
  if (itopTicketFinal(status)) {
    // An operator closed it (or it was deleted): never write to it again.
    logInfo("iTop " + destination_ + ": ticket " + std::to_string(ticket->id) + " of key " + key +
            " is " + status + " in iTop; a firing alert gets a new one");
    outbox_.forgetTicket(destination_, key);
    ticket.reset();
  }
  co_return delivered();
}

std::optional<std::int64_t> ItopAdapter::heldUntil(const OutboxEvent& event) const {
  if (event.action != "update" || target_.update_interval.count() <= 0) {
    return std::nullopt;
  }
  const auto last = last_write_.find(event.dedup_key);
  const auto now = Clock::now();
  if (last == last_write_.end() || now >= last->second + target_.update_interval) {
    return std::nullopt;
  }
  return wallMs() + std::chrono::duration_cast<std::chrono::milliseconds>(
                        last->second + target_.update_interval - now)
                        .count();
}

asio::awaitable<Classified> ItopAdapter::deliver(const OutboxEvent& event) {
  if (event.action == "heartbeat") {
    co_return delivered();
  }
  const auto canonical = nlohmann::json::parse(event.payload);
  const std::int64_t seq = canonical.value("seq", std::int64_t{0});
  const std::string& key = event.dedup_key;
  const auto stone = outbox_.tombstone(destination_, key, wallMs());
  if (stone && seq <= stone->seq) {
    // A duplicate of the resolve (its acknowledgement lost) or older: already applied.
    logInfo("iTop " + destination_ + ": event " + event.event_id + " (" + event.action + ", key " +
            key + ") is older than the resolve of ticket " + std::to_string(stone->ticket_id) +
            "; ignored");
    co_return delivered();
  }
  const std::string comment = commentFor(agent_, event);
  std::optional<TicketRef> ticket = outbox_.ticket(destination_, key);

  if (ticket && ticket->creating) {
    // The last create may have been committed although its answer was lost.
    Answer found = co_await call(target_, url_, itopFindByMarker(target_, key));
    if (found.classified.outcome != Outcome::Delivered) {
      co_return found.classified;
    }
    if (auto adopted = firstObject(found.body)) {
      ticket = *adopted;
      outbox_.saveTicket(destination_, key, *ticket);
    } else {
      ticket.reset();
    }
  }
  const std::int64_t known_ticket = ticket ? ticket->id : 0;
  if (ticket) {
    const Classified checked = co_await checkOpen(key, ticket);
    if (checked.outcome != Outcome::Delivered) {
      co_return checked;
    }
  }
  if (known_ticket != 0 && !ticket && event.action == "resolve") {
    // Closed by an operator before the alert resolved: nothing left to tell.
    bury(key, seq, known_ticket);
    co_return delivered();
  }
  if (event.action == "retire") {
    // The probe left the configuration: its ticket gets a log entry saying so, never a resolve.
    if (!ticket) {
      co_return delivered();
    }
    Answer logged =
        co_await call(target_, url_, itopLog(target_, ticket->id, logLine(canonical), comment));
    if (logged.classified.outcome == Outcome::Delivered) {
      bury(key, seq, ticket->id);
    }
    co_return logged.classified;
  }
  bool created_now = false;
  if (!ticket) {
    const std::string ci =
        canonical.contains("resource") ? canonical["resource"].value("ci_name", "") : "";
    bool link_ci = false;
    if (!ci.empty()) {
      const Classified looked_up = co_await lookUpCi(ci, link_ci);
      if (looked_up.outcome != Outcome::Delivered) {
        co_return looked_up;
      }
    }
    TicketRef pending;
    pending.creating = true;
    outbox_.saveTicket(destination_, key, pending);
    Answer created = co_await call(target_, url_, itopCreate(target_, canonical, comment, link_ci));
    if (created.classified.outcome == Outcome::Permanent ||
        created.classified.outcome == Outcome::Config) {
      outbox_.forgetTicket(destination_, key);  // refused: nothing was committed
    }
    if (created.classified.outcome != Outcome::Delivered) {
      co_return created.classified;
    }
    ticket = firstObject(created.body);
    if (!ticket) {
      co_return unreadable();
    }
    outbox_.saveTicket(destination_, key, *ticket);
    last_write_[key] = Clock::now();
    created_now = true;
  }

  if (event.action != "resolve") {
    if (created_now) {
      co_return delivered();
    }
    Answer logged =
        co_await call(target_, url_, itopLog(target_, ticket->id, logLine(canonical), comment));
    if (logged.classified.outcome == Outcome::Delivered) {
      last_write_[key] = Clock::now();
    }
    co_return logged.classified;
  }
  const std::string solution =
      "Rétablissement détecté par la supervision le " +
      canonical.value("occurred_at_local", canonical.value("occurred_at", "")) + ".";
  Answer resolved = refused();
  if (target_.autoresolve) {
    resolved =
        co_await call(target_, url_, itopAutoresolve(target_, ticket->id, solution, comment));
  }
  if (resolved.classified.outcome == Outcome::Permanent) {
    // log_only, or ev_autoresolve refused (missing mandatory field, state without the stimulus).
    resolved = co_await call(target_, url_, itopLog(target_, ticket->id, solution, comment));
  }
  if (resolved.classified.outcome == Outcome::Delivered) {
    bury(key, seq, ticket->id);
  }
  co_return resolved.classified;
}

asio::awaitable<std::vector<std::string>> ItopAdapter::checkReferences(std::string& unreachable) {
  const std::vector<Reference> references = referencesOf(target_);
  std::vector<std::string> problems;
  for (const Reference& reference : references) {
    const Answer answer = co_await call(target_, url_, reference.lookup);
    const Classified& result = answer.classified;
    if (result.outcome == Outcome::Retryable) {
      unreachable = result.reason + ": " + result.detail;
      co_return problems;
    }
    if (result.outcome == Outcome::Auth) {
      problems.push_back("username: iTop refuses the credentials: " + result.detail);
      co_return problems;  // every other lookup would say the same
    }
    if (result.outcome != Outcome::Delivered) {
      problems.push_back(reference.key + ": iTop refuses '" + reference.value +
                         "': " + result.detail);
      continue;
    }
    std::size_t found = 0;
    firstObject(answer.body, &found);
    if (reference.must_match && found != 1) {
      problems.push_back(reference.key + ": '" + reference.value + "' matches " +
                         std::to_string(found) + " " + reference.iclass +
                         " object(s) in iTop, not exactly one");
    }
  }
  co_return problems;
}

void ItopAdapter::bury(const std::string& key, std::int64_t seq, std::int64_t ticket) {
  last_write_.erase(key);
  Tombstone stone;
  stone.seq = seq;
  stone.ticket_id = ticket;
  const std::int64_t now = wallMs();
  stone.until_ms = now + target_.tombstone_ttl.count();
  if (!outbox_.buryTicket(destination_, key, stone, now)) {
    // Only a duplicate of this resolve could then reach the ticket again: a log entry at worst.
    logWarning("iTop " + destination_ + ": cannot record the resolve of key " + key + " in " +
               outbox_.database().path() + ": " + outbox_.database().lastError());
  }
}

namespace {

class ItopDestination final : public Destination {
 public:
  ItopDestination(std::shared_ptr<const ItopTarget> target, std::string id, std::string url,
                  DestinationContext& context)
      : Destination(id, target, url), adapter_(*target, url, id, context.outbox, context.agent) {}

  std::optional<std::int64_t> heldUntil(const OutboxEvent& event) const override {
    return adapter_.heldUntil(event);
  }

  asio::awaitable<Attempt> deliver(const OutboxEvent& event) override {
    Attempt attempt;
    attempt.result = co_await adapter_.deliver(event);
    co_return attempt;
  }

  asio::awaitable<std::vector<std::string>> checkReferences(std::string& unreachable) override {
    co_return co_await adapter_.checkReferences(unreachable);
  }

 private:
  ItopAdapter adapter_;
};

}  // namespace

std::unique_ptr<Destination> makeItop(const std::shared_ptr<const DestinationTarget>& target,
                                      std::size_t index, std::string id,
                                      DestinationContext& context) {
  auto itop = std::dynamic_pointer_cast<const ItopTarget>(target);
  std::string url = itop->urls[index];
  if (itop->autoresolve && itop->service.empty()) {
    // iTop 3.2 applies ev_autoresolve without service_id although its console requires one.
    logWarning("iTop " + id +
               ": on_resolve: autoresolve without service: iTop will resolve "
               "tickets without the service its console requires (it does not check it); set "
               "service");
  }
  return std::make_unique<ItopDestination>(std::move(itop), std::move(id), std::move(url), context);
}

}  // namespace vigie
