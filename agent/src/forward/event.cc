// SPDX-License-Identifier: Apache-2.0
#include "forward/event.h"

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

std::string_view severityOf(Status status) {
  switch (status) {
    case Status::Critical:
      return "critical";
    case Status::Warning:
      return "warning";
    case Status::Unknown:
      return "major";
    case Status::Ok:
      break;
  }
  return "info";
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

std::string_view actionName(AlertAction action) {
  switch (action) {
    case AlertAction::Trigger:
      return "trigger";
    case AlertAction::Update:
      return "update";
    case AlertAction::Resolve:
      break;
  }
  return "resolve";
}

}  // namespace

nlohmann::json buildEvent(const EventSource& source, const AlertChange& change, WallTime now,
                          Status previous_severity) {
  const bool flapping = change.kind == AlertKind::Flapping;
  const bool resolve = change.action == AlertAction::Resolve;
  Labels identity = source.labels;
  identity.emplace_back("alertname", flapping ? "VigieProbeFlapping" : "VigieProbeFailed");
  identity.emplace_back("agent", source.agent);
  identity.emplace_back("probe", source.probe);
  const std::string ci = labelOr(source.labels, "ci", source.probe);
  const AlertState* state = source.state;
  const std::string message = source.result != nullptr ? source.result->message : "";

  std::string summary = ci;
  if (flapping) {
    summary += resolve ? " : la sonde " + source.probe + " ne bascule plus"
                       : " : la sonde " + source.probe + " bascule sans cesse (flapping)";
  } else if (resolve) {
    summary += " : sonde " + source.type + " " + source.probe + " rétablie";
  } else {
    summary += " : sonde " + source.type + " " + source.probe + " en échec";
    if (!message.empty()) {
      summary += " (" + message + ")";
    }
  }
  std::string description;
  if (state != nullptr && !resolve && !flapping) {
    description = std::to_string(state->attempt) + " échec(s) consécutif(s) depuis " +
                  rfc3339(state->firing_since) + "; " + message;
  } else if (flapping && state != nullptr) {
    description =
        "taux de changement d'état " + std::to_string(static_cast<int>(state->flap_percent)) + " %";
  } else {
    description = message;
  }

  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [name, value] : identity) {
    labels[name] = value;
  }
  nlohmann::json metrics = nlohmann::json::object();
  if (source.result != nullptr) {
    for (std::size_t i = 0; i < source.result->sampleCount(); ++i) {
      if (source.result->key(i).labels.empty()) {
        metrics[source.result->key(i).name()] = source.result->values[i];
      }
    }
  }
  const WallTime starts =
      state != nullptr && state->firing_since != WallTime{} ? state->firing_since : now;
  nlohmann::json event{
      {"schema", "vigie-event/1"},
      {"event_id", newEventId(now)},
      {"dedup_key", dedupKey(identity)},
      {"seq", 0},
      {"action", actionName(change.action)},
      {"status", resolve ? "resolved" : "firing"},
      {"severity", severityOf(change.severity)},
      {"occurred_at", rfc3339(now)},
      {"starts_at", rfc3339(starts)},
      {"ends_at", resolve ? nlohmann::json(rfc3339(now)) : nlohmann::json(nullptr)},
      {"source", {{"agent", source.agent}, {"agent_version", kVersion}}},
      {"resource",
       {{"ci_name", ci},
        {"ci_class", labelOr(source.labels, "ci_class", "")},
        {"service", labelOr(source.labels, "service", "")},
        {"organization", labelOr(source.labels, "organization", "")},
        {"hosting_center", labelOr(source.labels, "hosting_center", "")},
        {"environment", labelOr(source.labels, "environment", "")}}},
      {"check",
       {{"name", source.probe},
        {"kind", source.type},
        {"status", state != nullptr ? std::string(statusName(state->status)) : "OK"},
        {"reason", source.result != nullptr ? source.result->reason : ""},
        {"consecutive_failures",
         state != nullptr && state->status != Status::Ok ? state->attempt : 0},
        {"max_attempts", source.max_attempts}}},
      {"labels", labels},
      {"summary", summary},
      {"description", description},
      {"metrics", metrics},
      {"history", nlohmann::json::array({{{"at", rfc3339(now)},
                                          {"status", resolve ? "resolved" : "firing"},
                                          {"severity", severityOf(change.severity)}}})}};
  if (change.action == AlertAction::Update && previous_severity != Status::Ok) {
    event["previous_severity"] = severityOf(previous_severity);
  }
  return event;
}

nlohmann::json buildHeartbeat(const std::string& agent, WallTime now) {
  return {{"schema", "vigie-event/1"},
          {"event_id", newEventId(now)},
          {"dedup_key", "heartbeat:" + agent},
          {"seq", 0},
          {"action", "heartbeat"},
          {"status", "firing"},
          {"severity", "info"},
          {"occurred_at", rfc3339(now)},
          {"source", {{"agent", agent}, {"agent_version", kVersion}}},
          {"labels", {{"alertname", "Watchdog"}, {"agent", agent}}},
          {"summary", "Vigie " + agent + " : agent en service"},
          {"history", nlohmann::json::array()}};
}

}  // namespace vigie
