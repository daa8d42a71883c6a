// SPDX-License-Identifier: Apache-2.0
#include "alert/event.h"

#include <date/date.h>
#include <date/tz.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

#include "vigie/version.h"

namespace vigie {

std::string rfc3339(WallTime when) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis % 1000));
  return text;
}

std::string dedupKey(Labels identity) {
  std::sort(identity.begin(), identity.end());
  std::uint64_t hash = 14695981039346656037ULL;
  auto feed = [&hash](const std::string& text) {
    for (const char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ULL;
    }
    hash ^= 0xffU;
    hash *= 1099511628211ULL;
  };
  for (const auto& [name, value] : identity) {
    feed(name);
    feed(value);
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::string newEventId(WallTime now) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("no randomness available for event ids");
  }
  const auto millis = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  for (int i = 0; i < 6; ++i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(millis >> (40 - 8 * i));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x70);  // version 7
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string text;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      text += '-';
    }
    text += kHex[bytes[i] >> 4];
    text += kHex[bytes[i] & 0x0f];
  }
  return text;
}

const std::vector<SeverityLevel>& severityTable() {
  // UNKNOWN (the probe could not tell) sits between the two: an H24 operator must look at it
  // soon, but nothing proves an outage.
  static const std::vector<SeverityLevel> kTable{{Status::Critical, "critical", 2, 1},
                                                 {Status::Unknown, "major", 2, 2},
                                                 {Status::Warning, "warning", 3, 3},
                                                 {Status::Ok, "info", 3, 4}};
  return kTable;
}

std::string_view severityOf(Status status) {
  for (const SeverityLevel& level : severityTable()) {
    if (level.status == status) {
      return level.word;
    }
  }
  return "info";
}

std::string humanTime(WallTime when, const date::time_zone* zone) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(when);
  if (zone == nullptr) {
    return date::format("%d/%m/%Y %H:%M:%S UTC", seconds);
  }
  const auto offset =
      std::chrono::duration_cast<std::chrono::minutes>(zone->get_info(seconds).offset);
  const auto minutes = std::abs(offset.count());
  char sign_and_offset[16];
  std::snprintf(sign_and_offset, sizeof sign_and_offset, "UTC%c%02d:%02d",
                offset.count() < 0 ? '-' : '+', static_cast<int>(minutes / 60),
                static_cast<int>(minutes % 60));
  return date::format("%d/%m/%Y %H:%M:%S ", zone->to_local(seconds)) + sign_and_offset + " (" +
         std::string(zone->name()) + ")";
}

std::string_view actionName(EventAction action) {
  switch (action) {
    case EventAction::Trigger:
      return "trigger";
    case EventAction::Update:
      return "update";
    case EventAction::Heartbeat:
      return "heartbeat";
    case EventAction::Retire:
      return "retire";
    case EventAction::Resolve:
      break;
  }
  return "resolve";
}

std::optional<EventAction> parseAction(std::string_view name) {
  for (const EventAction action : {EventAction::Trigger, EventAction::Update, EventAction::Resolve,
                                   EventAction::Heartbeat, EventAction::Retire}) {
    if (actionName(action) == name) {
      return action;
    }
  }
  return std::nullopt;
}

EventAction mergeActions(EventAction earlier, EventAction later) {
  if (later == EventAction::Heartbeat || earlier == later) {
    return later;
  }
  if (earlier == EventAction::Trigger && later == EventAction::Update) {
    return EventAction::Trigger;  // the receiver never heard of the alert: it is still a trigger
  }
  if (earlier == EventAction::Resolve &&
      (later == EventAction::Trigger || later == EventAction::Update)) {
    return EventAction::Update;  // the receiver last knew it firing, and it fires again
  }
  return later;  // update or trigger then resolve: resolve, its history shows the episode
}

Event mergeEvents(const Event& earlier, Event later) {
  later.action = mergeActions(earlier.action, later.action);
  later.history.insert(later.history.begin(), earlier.history.begin(), earlier.history.end());
  return later;
}

nlohmann::json toJson(const Event& event) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [name, value] : event.labels) {
    labels[name] = value;
  }
  nlohmann::json history = nlohmann::json::array();
  for (const EventHistoryItem& item : event.history) {
    history.push_back({{"at", rfc3339(item.at)},
                       {"status", item.firing ? "firing" : "resolved"},
                       {"severity", item.severity}});
  }
  nlohmann::json json{{"schema", "vigie-event/1"},
                      {"event_id", event.event_id},
                      {"dedup_key", event.dedup_key},
                      {"seq", 0},
                      {"action", actionName(event.action)},
                      {"status", event.firing                          ? "firing"
                                 : event.action == EventAction::Retire ? "retired"
                                                                       : "resolved"},
                      {"severity", event.severity},
                      {"occurred_at", rfc3339(event.occurred_at)},
                      {"source", {{"agent", event.agent}, {"agent_version", kVersion}}},
                      {"labels", labels},
                      {"summary", event.summary},
                      {"history", history}};
  if (event.heartbeat()) {
    return json;
  }
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [name, value] : event.metrics) {
    metrics[name] = value;
  }
  const EventResource& resource = event.resource;
  const EventCheck& check = event.check;
  json["occurred_at_local"] = event.occurred_at_local;
  json["starts_at"] = rfc3339(event.starts_at);
  json["ends_at"] = event.ends_at ? nlohmann::json(rfc3339(*event.ends_at)) : nlohmann::json();
  json["resource"] = {{"ci_name", resource.ci_name},
                      {"ci_class", resource.ci_class},
                      {"service", resource.service},
                      {"organization", resource.organization},
                      {"hosting_center", resource.hosting_center},
                      {"environment", resource.environment},
                      {"app", resource.app}};
  json["check"] = {{"name", check.name},
                   {"kind", check.kind},
                   {"status", check.status},
                   {"reason", check.reason},
                   {"alert_reason", check.alert_reason},
                   {"consecutive_failures", check.consecutive_failures},
                   {"max_attempts", check.max_attempts}};
  json["description"] = event.description;
  json["metrics"] = metrics;
  if (event.previous_severity) {
    json["previous_severity"] = *event.previous_severity;
  }
  if (event.reassertion) {
    json["reassertion"] = true;
  }
  if (!event.affected.empty()) {
    json["affected_probes"] = event.affected;
  }
  if (!event.runbook_url.empty()) {
    json["runbook_url"] = event.runbook_url;
  }
  if (!event.instructions.empty()) {
    json["instructions"] = event.instructions;
  }
  if (event.acknowledgement) {
    json["acknowledgement"] = {{"author", event.acknowledgement->author},
                               {"comment", event.acknowledgement->comment},
                               {"at", rfc3339(event.acknowledgement->at)}};
  }
  return json;
}

namespace {

std::string labelOr(const Labels& labels, const std::string& name, const std::string& fallback) {
  for (const auto& [key, value] : labels) {
    if (key == name) {
      return value;
    }
  }
  return fallback;
}

}  // namespace

Event buildEvent(const EventSource& source, const AlertChange& change, WallTime now,
                 Status previous_severity) {
  const bool flapping = change.kind == AlertKind::Flapping;
  const bool resolve = change.action == AlertAction::Resolve;
  const bool retire = change.action == AlertAction::Retire;
  const bool firing = !resolve && !retire;
  Labels identity = source.labels;
  identity.emplace_back("alertname", flapping ? "VigieProbeFlapping" : "VigieProbeFailed");
  identity.emplace_back("agent", source.agent);
  identity.emplace_back("probe", source.probe);
  const std::string ci = labelOr(source.labels, "ci", source.probe);
  const AlertState* state = source.state;
  const std::string message = source.result != nullptr ? source.result->message : "";

  Event event;
  event.summary = ci;
  if (retire) {
    event.summary += " : sonde " + source.type + " " + source.probe +
                     " retirée de la configuration, alerte close sans rétablissement constaté";
    event.description =
        "La sonde ne fait plus partie de la configuration de l'agent " + source.agent +
        " : plus rien ne la vérifie. Son alerte " +
        (flapping
             ? std::string("de bascule (flapping)")
             : "(dernier état connu " +
                   std::string(state != nullptr ? statusName(state->status) : "UNKNOWN") + ")") +
        " est close sans que la sonde ait été vue rétablie.";
  } else if (flapping) {
    event.summary += resolve ? " : la sonde " + source.probe + " ne bascule plus"
                             : " : la sonde " + source.probe + " bascule sans cesse (flapping)";
    if (state != nullptr) {
      event.description = "taux de changement d'état " +
                          std::to_string(static_cast<int>(state->flap_percent)) + " %";
    }
  } else if (resolve) {
    event.summary += " : sonde " + source.type + " " + source.probe + " rétablie";
    event.description = message;
  } else {
    event.summary += " : sonde " + source.type + " " + source.probe + " en échec";
    if (!message.empty()) {
      event.summary += " (" + message + ")";
    }
    if (state != nullptr) {
      const WallTime since = state->first_failure != WallTime{} ? state->first_failure : now;
      event.description = std::to_string(state->attempt) + " échec(s) consécutif(s) depuis " +
                          humanTime(since, source.zone) + " ; " + message;
    } else {
      event.description = message;
    }
  }
  if (!source.affected.empty()) {
    std::string names;
    for (const std::string& name : source.affected) {
      names += (names.empty() ? "" : ", ") + name;
    }
    event.description +=
        "\nSondes dépendantes en échec (injoignables, sans alerte propre) : " + names + ".";
    event.affected = source.affected;
  }
  event.runbook_url = source.runbook_url;
  event.instructions = source.instructions;
  if (source.result != nullptr) {
    for (std::size_t i = 0; i < source.result->sampleCount(); ++i) {
      if (source.result->key(i).labels.empty()) {
        event.metrics.emplace_back(source.result->key(i).name(), source.result->values[i]);
      }
    }
  }
  event.event_id = newEventId(now);
  event.dedup_key = dedupKey(identity);
  event.action = change.action == AlertAction::Trigger  ? EventAction::Trigger
                 : change.action == AlertAction::Update ? EventAction::Update
                 : retire                               ? EventAction::Retire
                                                        : EventAction::Resolve;
  event.firing = firing;
  event.severity = severityOf(change.severity);
  event.occurred_at = now;
  event.occurred_at_local = humanTime(now, source.zone);
  event.starts_at =
      state != nullptr && state->firing_since != WallTime{} ? state->firing_since : now;
  if (!firing) {
    event.ends_at = now;
  }
  event.agent = source.agent;
  event.resource = {ci,
                    labelOr(source.labels, "ci_class", ""),
                    labelOr(source.labels, "service", ""),
                    labelOr(source.labels, "organization", ""),
                    labelOr(source.labels, "hosting_center", ""),
                    labelOr(source.labels, "environment", ""),
                    labelOr(source.labels, "app", "")};
  event.check.name = source.probe;
  event.check.kind = source.type;
  event.check.status = state != nullptr ? std::string(statusName(state->status)) : "OK";
  event.check.reason = source.result != nullptr ? source.result->reason : "";
  event.check.alert_reason =
      flapping ? "flapping" : (state != nullptr ? state->notified_reason : event.check.reason);
  event.check.consecutive_failures =
      state != nullptr && state->status != Status::Ok ? state->attempt : 0;
  event.check.max_attempts = source.max_attempts;
  event.labels = std::move(identity);
  event.history.push_back({now, firing, event.severity});
  if (change.action == AlertAction::Update && previous_severity != Status::Ok) {
    event.previous_severity = std::string(severityOf(previous_severity));
  }
  return event;
}

Event buildHeartbeat(const std::string& agent, WallTime now) {
  Event event;
  event.event_id = newEventId(now);
  event.dedup_key = "heartbeat:" + agent;
  event.action = EventAction::Heartbeat;
  event.severity = "info";
  event.occurred_at = now;
  event.agent = agent;
  event.labels = {{"alertname", "Watchdog"}, {"agent", agent}};
  event.summary = "Vigie " + agent + " : agent en service";
  return event;
}

}  // namespace vigie
