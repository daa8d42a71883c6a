// SPDX-License-Identifier: Apache-2.0
#include "forward/itop.h"

#include <curl/curl.h>

#include <memory>

namespace vigie {

namespace {

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

std::string htmlEscaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
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
  } else if (itop.auth == "token") {
    request.headers.push_back("Auth-Token: " + itop.token);
    request.target.username.clear();
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
  answer.body = nlohmann::json::parse(reply.body, nullptr, false);
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
Classified delivered() { return {Outcome::Delivered, ""}; }
Classified unreadable() { return {Outcome::Retryable, "itop_not_json"}; }
Answer refused() {
  Answer answer;
  answer.classified = {Outcome::Permanent, ""};
  return answer;
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
    return {Outcome::Retryable, "itop_not_json"};  // a proxy page or a PHP fatal error
  }
  const int code = body["code"].is_number() ? body["code"].get<int>() : -1;
  if (code == 0) {
    return {Outcome::Delivered, ""};
  }
  if (code == 1) {
    return {Outcome::Auth, "auth"};
  }
  if (code == 100) {
    const std::string message = body.value("message", "");
    for (const char* permanent : kPermanentMessages) {
      if (message.find(permanent) != std::string::npos) {
        return {Outcome::Permanent, "itop_invalid"};
      }
    }
    return {Outcome::Retryable, "itop_internal"};
  }
  return {Outcome::Permanent, "itop_invalid"};
}

nlohmann::json itopCreate(const ItopTarget& target, const nlohmann::json& event,
                          const std::string& comment, bool link_ci) {
  const std::string severity = event.value("severity", "critical");
  const auto mapped =
      target.severity_map.count(severity) != 0 ? target.severity_map.at(severity) : std::pair{2, 2};
  std::string title = marker(event.value("dedup_key", "")) + " " + event.value("summary", "");
  std::string description = "<p>" + htmlEscaped(event.value("summary", "")) + "</p><p>" +
                            htmlEscaped(event.value("description", "")) + "</p>";
  const std::string ci = event.contains("resource") ? event["resource"].value("ci_name", "") : "";
  if (!link_ci && !ci.empty()) {
    description += "<p>CI : " + htmlEscaped(ci) + "</p>";
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
                      "%' AND status NOT IN ('resolved','closed')"},
          {"output_fields", "id, ref, status"}};
}

nlohmann::json itopFindCi(const ItopTarget& target, const std::string& ci_name) {
  return {{"operation", "core/get"},
          {"class", target.ci_class},
          {"key", "SELECT " + target.ci_class + " WHERE name = " + oqlQuoted(ci_name)},
          {"output_fields", "id"}};
}

asio::awaitable<Classified> deliverToItop(const ItopTarget& target, const std::string& url,
                                          const std::string& destination, AlertDb& db,
                                          const OutboxEvent& event, const std::string& agent) {
  if (event.action == "heartbeat") {
    co_return delivered();
  }
  const auto canonical = nlohmann::json::parse(event.payload);
  const std::string comment = commentFor(agent, event);
  std::optional<TicketRef> ticket = db.ticket(destination, event.dedup_key);

  if (ticket && ticket->creating) {
    // The last create may have been committed although its answer was lost.
    Answer found = co_await call(target, url, itopFindByMarker(target, event.dedup_key));
    if (found.classified.outcome != Outcome::Delivered) {
      co_return found.classified;
    }
    if (auto adopted = firstObject(found.body)) {
      ticket = *adopted;
      db.saveTicket(destination, event.dedup_key, *ticket);
    } else {
      ticket.reset();
    }
  }
  bool created_now = false;
  if (!ticket) {
    const std::string ci =
        canonical.contains("resource") ? canonical["resource"].value("ci_name", "") : "";
    bool link_ci = false;
    if (!ci.empty()) {
      Answer lookup = co_await call(target, url, itopFindCi(target, ci));
      if (lookup.classified.outcome != Outcome::Delivered) {
        co_return lookup.classified;
      }
      std::size_t count = 0;
      firstObject(lookup.body, &count);
      link_ci = count == 1;
    }
    TicketRef pending;
    pending.creating = true;
    db.saveTicket(destination, event.dedup_key, pending);
    Answer created = co_await call(target, url, itopCreate(target, canonical, comment, link_ci));
    if (created.classified.outcome == Outcome::Permanent) {
      db.forgetTicket(destination, event.dedup_key);
    }
    if (created.classified.outcome != Outcome::Delivered) {
      co_return created.classified;
    }
    ticket = firstObject(created.body);
    if (!ticket) {
      co_return unreadable();
    }
    db.saveTicket(destination, event.dedup_key, *ticket);
    created_now = true;
  }

  if (event.action != "resolve") {
    if (created_now) {
      co_return delivered();
    }
    Answer logged =
        co_await call(target, url, itopLog(target, ticket->id, logLine(canonical), comment));
    co_return logged.classified;
  }
  const std::string solution =
      "Rétablissement détecté par la supervision à " + canonical.value("occurred_at", "") + ".";
  Answer resolved = refused();
  if (target.autoresolve) {
    resolved = co_await call(target, url, itopAutoresolve(target, ticket->id, solution, comment));
  }
  if (resolved.classified.outcome == Outcome::Permanent) {
    // log_only, or ev_autoresolve refused (missing mandatory field, state without the stimulus).
    resolved = co_await call(target, url, itopLog(target, ticket->id, solution, comment));
  }
  if (resolved.classified.outcome == Outcome::Delivered) {
    db.forgetTicket(destination, event.dedup_key);
  }
  co_return resolved.classified;
}

}  // namespace vigie
