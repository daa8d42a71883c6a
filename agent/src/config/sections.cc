// SPDX-License-Identifier: Apache-2.0
#include "config/sections.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>

namespace vigie {

const std::vector<std::string> kProbeAlertingKeys{
    "max_attempts", "retry_interval", "recovery_attempts", "flapping",
    "depends_on",   "runbook_url",    "instructions"};

namespace {

std::optional<std::int64_t> intAtLeast(const SectionReader& reader, const YAML::Node& node,
                                       const std::string& path, std::int64_t minimum) {
  auto value = reader.convert(node, path, FieldType::Int);
  if (!value) {
    return std::nullopt;
  }
  const auto number = std::get<std::int64_t>(*value);
  if (number < minimum) {
    reader.report(node, path, "must be at least " + std::to_string(minimum));
    return std::nullopt;
  }
  return number;
}

std::optional<std::chrono::milliseconds> positiveDuration(const SectionReader& reader,
                                                          const YAML::Node& node,
                                                          const std::string& path) {
  auto value = reader.convert(node, path, FieldType::Duration);
  if (!value) {
    return std::nullopt;
  }
  const auto duration = std::get<std::chrono::milliseconds>(*value);
  if (duration.count() <= 0) {
    reader.report(node, path, "must be greater than 0s");
    return std::nullopt;
  }
  return duration;
}

std::string text(const SectionReader& reader, const YAML::Node& node, const std::string& path) {
  auto value = reader.convert(node, path, FieldType::String);
  return value ? std::get<std::string>(*value) : std::string();
}

/// A size: bytes, or a number with KiB, MiB, GiB (or kB, MB, GB) after it.
std::optional<std::int64_t> bytesAtLeast(const SectionReader& reader, const YAML::Node& node,
                                         const std::string& path, std::int64_t minimum) {
  const std::string value = text(reader, node, path);
  std::size_t end = 0;
  while (end < value.size() && value[end] >= '0' && value[end] <= '9') {
    ++end;
  }
  std::string unit = value.substr(end);
  while (!unit.empty() && unit.front() == ' ') {
    unit.erase(0, 1);
  }
  const std::map<std::string, std::int64_t> units{
      {"", 1},          {"B", 1},      {"KiB", 1 << 10},  {"MiB", 1 << 20},
      {"GiB", 1 << 30}, {"kB", 1'000}, {"MB", 1'000'000}, {"GB", 1'000'000'000}};
  const auto multiplier = units.find(unit);
  if (end == 0 || end > 15 || multiplier == units.end()) {
    reader.report(node, path, "expected a size like 65536, 512KiB or 64MiB, got '" + value + "'");
    return std::nullopt;
  }
  const std::int64_t number = std::stoll(value.substr(0, end));
  if (number > std::numeric_limits<std::int64_t>::max() / multiplier->second) {
    reader.report(node, path, "too large");
    return std::nullopt;
  }
  const std::int64_t bytes = number * multiplier->second;
  if (bytes < minimum) {
    reader.report(node, path, "must be at least " + std::to_string(minimum) + " bytes");
    return std::nullopt;
  }
  return bytes;
}

const std::vector<std::string> kWeekdays{"sunday",   "monday", "tuesday", "wednesday",
                                         "thursday", "friday", "saturday"};

void loadWeekly(const SectionReader& reader, const YAML::Node& node, const std::string& path,
                MaintenanceWindow& window) {
  if (!reader.checkMapping(node, path, {"days", "from", "to", "timezone"})) {
    return;
  }
  for (const char* key : {"from", "to", "timezone"}) {
    if (!node[key]) {
      reader.report(node, path + "." + key, "required field is missing");
    }
  }
  if (node["days"]) {
    if (auto days = reader.convert(node["days"], path + ".days", FieldType::StringList)) {
      for (const std::string& day : std::get<std::vector<std::string>>(*days)) {
        const auto it = std::find(kWeekdays.begin(), kWeekdays.end(), day);
        if (it == kWeekdays.end()) {
          reader.report(node["days"], path + ".days",
                        "unknown day '" + day + "' (write monday ... sunday)");
          continue;
        }
        window.weekdays.push_back(static_cast<unsigned>(it - kWeekdays.begin()));
      }
    }
  }
  for (const auto& [key, target] : {std::pair{"from", &window.from}, std::pair{"to", &window.to}}) {
    if (!node[key]) {
      continue;
    }
    const std::string value = text(reader, node[key], path + "." + key);
    if (auto minutes = parseTimeOfDay(value)) {
      *target = *minutes;
    } else {
      reader.report(node[key], path + "." + key, "expected HH:MM, got '" + value + "'");
    }
  }
  if (node["from"] && node["to"] && window.from == window.to) {
    reader.report(node["to"], path + ".to", "must differ from 'from'");
  }
  if (node["timezone"]) {
    const std::string zone = text(reader, node["timezone"], path + ".timezone");
    window.zone = findZone(zone);
    if (window.zone == nullptr) {
      reader.report(node["timezone"], path + ".timezone",
                    "unknown time zone '" + zone + "' (e.g. Europe/Paris, UTC)");
    }
  }
}

void loadHttpTarget(const SectionReader& reader, const YAML::Node& node, const std::string& path,
                    HttpTarget& target) {
  target.name = text(reader, node["name"], path + ".name");
  if (node["url"]) {
    target.urls.push_back(text(reader, node["url"], path + ".url"));
  }
  if (node["urls"]) {
    if (auto urls = reader.convert(node["urls"], path + ".urls", FieldType::StringList)) {
      for (const std::string& url : std::get<std::vector<std::string>>(*urls)) {
        target.urls.push_back(url);
      }
    }
  }
  if (target.urls.empty()) {
    reader.report(node, path + ".url", "required field is missing");
  }
  for (const std::string& url : target.urls) {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      reader.report(node, path + ".url", "expected an http:// or https:// URL, got '" + url + "'");
    }
  }
  if (node["timeout"]) {
    if (auto timeout = positiveDuration(reader, node["timeout"], path + ".timeout")) {
      target.timeout = *timeout;
    }
  }
  if (node["tls_verify"]) {
    if (auto verify = reader.convert(node["tls_verify"], path + ".tls_verify", FieldType::Bool)) {
      target.tls_verify = std::get<bool>(*verify);
    }
  }
  if (node["tls_ca_file"]) {
    target.tls_ca_file =
        reader.resolvePath(text(reader, node["tls_ca_file"], path + ".tls_ca_file"));
  }
  if (node["username"]) {
    target.username = text(reader, node["username"], path + ".username");
  }
  target.password = reader.secret(node, path, "password");
}

void loadItop(const SectionReader& reader, const YAML::Node& item, const std::string& path,
              ItopTarget& target);

const std::vector<std::string> kHttpTargetKeys{"name",     "url",        "urls",
                                               "timeout",  "tls_verify", "tls_ca_file",
                                               "username", "password",   "password_file"};

template <typename Target, typename Extra>
void loadTargets(const SectionReader& reader, const YAML::Node& node, const std::string& path,
                 std::vector<std::string> allowed,
                 std::vector<std::shared_ptr<const DestinationTarget>>& targets,
                 std::set<std::string>& names, Extra&& extra) {
  if (!node) {
    return;
  }
  if (!node.IsSequence()) {
    reader.report(node, path, "expected a list of destinations");
    return;
  }
  allowed.insert(allowed.end(), kHttpTargetKeys.begin(), kHttpTargetKeys.end());
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (!reader.checkMapping(node[i], item_path, allowed)) {
      continue;
    }
    if (!node[i]["name"]) {
      reader.report(node[i], item_path + ".name", "required field is missing");
      continue;
    }
    auto target = std::make_shared<Target>();
    loadHttpTarget(reader, node[i], item_path, *target);
    extra(node[i], item_path, *target);
    if (!names.insert(target->name).second) {
      reader.report(node[i]["name"], item_path + ".name",
                    "duplicate destination name '" + target->name + "'");
    }
    targets.push_back(std::move(target));
  }
}

}  // namespace

void loadProbeAlerting(const SectionReader& reader, const YAML::Node& probe,
                       const std::string& path, ProbeSpec& spec) {
  AlertPolicy& policy = spec.alerting;
  if (probe["max_attempts"]) {
    if (auto value = intAtLeast(reader, probe["max_attempts"], path + ".max_attempts", 1)) {
      policy.max_attempts = static_cast<int>(*value);
    }
  }
  if (probe["recovery_attempts"]) {
    if (auto value =
            intAtLeast(reader, probe["recovery_attempts"], path + ".recovery_attempts", 1)) {
      policy.recovery_attempts = static_cast<int>(*value);
    }
  }
  if (probe["retry_interval"]) {
    if (auto value = positiveDuration(reader, probe["retry_interval"], path + ".retry_interval")) {
      policy.retry_interval = *value;
    }
  }
  if (const YAML::Node flapping = probe["flapping"]) {
    const std::string flap_path = path + ".flapping";
    if (flapping.IsScalar()) {
      if (auto enabled = reader.convert(flapping, flap_path, FieldType::Bool)) {
        policy.flap_detection = std::get<bool>(*enabled);
      }
    } else if (reader.checkMapping(flapping, flap_path, {"low", "high"})) {
      for (const auto& [key, target] :
           {std::pair{"low", &policy.flap_low}, std::pair{"high", &policy.flap_high}}) {
        if (!flapping[key]) {
          continue;
        }
        if (auto value = reader.convert(flapping[key], flap_path + "." + key, FieldType::Float)) {
          *target = std::get<double>(*value);
          if (*target <= 0 || *target >= 100) {
            reader.report(flapping[key], flap_path + "." + key,
                          "must be a percentage between 0 and 100");
          }
        }
      }
      if (policy.flap_low >= policy.flap_high) {
        reader.report(flapping, flap_path, "low must be below high");
      }
    }
  }
  if (probe["depends_on"]) {
    if (auto parents =
            reader.convert(probe["depends_on"], path + ".depends_on", FieldType::StringList)) {
      spec.depends_on = std::get<std::vector<std::string>>(*parents);
    }
  }
  if (probe["runbook_url"]) {
    spec.runbook_url = text(reader, probe["runbook_url"], path + ".runbook_url");
  }
  if (probe["instructions"]) {
    spec.instructions = text(reader, probe["instructions"], path + ".instructions");
  }
}

void loadMaintenance(const SectionReader& reader, const YAML::Node& node, AgentConfig& config) {
  if (!node) {
    return;
  }
  if (!node.IsSequence()) {
    reader.report(node, "maintenance", "expected a list of maintenance windows");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = "maintenance[" + std::to_string(i) + "]";
    if (!reader.checkMapping(item, path,
                             {"name", "start", "end", "weekly", "probes", "match_labels"})) {
      continue;
    }
    MaintenanceWindow window;
    window.name = item["name"] ? text(reader, item["name"], path + ".name") : path;
    const bool one_off = item["start"] || item["end"];
    if (one_off == static_cast<bool>(item["weekly"])) {
      reader.report(item, path, "set either start and end (one-off) or weekly (recurring)");
      continue;
    }
    if (item["weekly"]) {
      loadWeekly(reader, item["weekly"], path + ".weekly", window);
    } else {
      for (const auto& [key, target] :
           {std::pair{"start", &window.start}, std::pair{"end", &window.end}}) {
        if (!item[key]) {
          reader.report(item, path + "." + key, "required field is missing");
          continue;
        }
        const std::string value = text(reader, item[key], path + "." + key);
        *target = parseTimestamp(value);
        if (!*target) {
          reader.report(
              item[key], path + "." + key,
              "expected an RFC 3339 time like 2026-12-01T06:00:00+01:00, got '" + value + "'");
        }
      }
      if (window.start && window.end && *window.end <= *window.start) {
        reader.report(item["end"], path + ".end", "must be after start");
      }
    }
    if (item["probes"]) {
      if (auto probes = reader.convert(item["probes"], path + ".probes", FieldType::StringList)) {
        window.probes = std::get<std::vector<std::string>>(*probes);
      }
    }
    if (item["match_labels"]) {
      if (auto labels =
              reader.convert(item["match_labels"], path + ".match_labels", FieldType::StringMap)) {
        window.match_labels = std::get<Labels>(*labels);
      }
    }
    config.maintenance.push_back(std::move(window));
  }
}

void loadForwarding(const SectionReader& reader, const YAML::Node& node, AgentConfig& config) {
  if (!node) {
    return;
  }
  ForwardingConfig& forwarding = config.forwarding;
  if (!reader.checkMapping(node, "forwarding",
                           {"webhook", "alertmanager", "itop", "spool_max_events",
                            "spool_max_bytes", "unwritten_max_events", "heartbeat_interval",
                            "reassert_interval", "drain_rate", "backoff_base", "backoff_cap"})) {
    return;
  }
  for (const auto& [key, target, minimum] :
       {std::tuple{"spool_max_events", &forwarding.spool_max_events, 10},
        std::tuple{"unwritten_max_events", &forwarding.unwritten_max_events, 10}}) {
    if (node[key]) {
      if (auto value = intAtLeast(reader, node[key], std::string("forwarding.") + key, minimum)) {
        *target = *value;
      }
    }
  }
  if (node["spool_max_bytes"]) {
    // Room for a few events at least: one is a few kB.
    if (auto value =
            bytesAtLeast(reader, node["spool_max_bytes"], "forwarding.spool_max_bytes", 65'536)) {
      forwarding.spool_max_bytes = *value;
    }
  }
  for (const auto& [key, target] : {std::pair{"heartbeat_interval", &forwarding.heartbeat_interval},
                                    std::pair{"reassert_interval", &forwarding.reassert_interval},
                                    std::pair{"backoff_base", &forwarding.backoff_base},
                                    std::pair{"backoff_cap", &forwarding.backoff_cap}}) {
    if (node[key]) {
      if (auto value = positiveDuration(reader, node[key], std::string("forwarding.") + key)) {
        *target = *value;
      }
    }
  }
  if (node["drain_rate"]) {
    if (auto value =
            reader.convert(node["drain_rate"], "forwarding.drain_rate", FieldType::Float)) {
      forwarding.drain_rate = std::get<double>(*value);
      if (forwarding.drain_rate <= 0) {
        reader.report(node["drain_rate"], "forwarding.drain_rate", "must be greater than 0");
      }
    }
  }
  std::set<std::string> names;
  loadTargets<WebhookTarget>(
      reader, node["webhook"], "forwarding.webhook", {"hmac_secret", "hmac_secret_file"},
      forwarding.destinations, names,
      [&reader](const YAML::Node& item, const std::string& path, WebhookTarget& target) {
        target.hmac_secret = reader.secret(item, path, "hmac_secret");
      });
  loadTargets<AlertmanagerTarget>(
      reader, node["alertmanager"], "forwarding.alertmanager",
      {"resend_interval", "resolved_retention"}, forwarding.destinations, names,
      [&reader](const YAML::Node& item, const std::string& path, AlertmanagerTarget& target) {
        for (const auto& [key, value] :
             {std::pair{"resend_interval", &target.resend_interval},
              std::pair{"resolved_retention", &target.resolved_retention}}) {
          if (item[key]) {
            if (auto d = positiveDuration(reader, item[key], path + "." + key)) {
              *value = *d;
            }
          }
        }
      });
  loadTargets<ItopTarget>(reader, node["itop"], "forwarding.itop",
                          {"version", "auth", "token", "token_file", "class", "organization",
                           "caller", "service", "ci_class", "on_resolve", "resolution_code",
                           "severity_map", "ci_cache_ttl", "update_interval", "tombstone_ttl"},
                          forwarding.destinations, names,
                          [&reader](const YAML::Node& item, const std::string& path,
                                    ItopTarget& target) { loadItop(reader, item, path, target); });
}

namespace {

void loadItop(const SectionReader& reader, const YAML::Node& item, const std::string& path,
              ItopTarget& target) {
  auto word = [&](const char* key, std::string& out, const std::vector<std::string>& choices) {
    if (!item[key]) {
      return;
    }
    out = text(reader, item[key], path + "." + key);
    if (!choices.empty() && std::find(choices.begin(), choices.end(), out) == choices.end()) {
      std::string allowed;
      for (const std::string& choice : choices) {
        allowed.append(allowed.empty() ? "" : ", ").append(choice);
      }
      reader.report(item[key], path + "." + key, "must be one of " + allowed);
    }
  };
  word("version", target.version, {"1.3", "1.4"});
  word("auth", target.auth, {"form", "basic"});
  word("class", target.ticket_class, {"Incident", "UserRequest"});
  word("organization", target.organization, {});
  word("caller", target.caller, {});
  word("service", target.service, {});
  word("ci_class", target.ci_class, {});
  word("resolution_code", target.resolution_code, {});
  std::string on_resolve = "log_only";
  word("on_resolve", on_resolve, {"log_only", "autoresolve"});
  target.autoresolve = on_resolve == "autoresolve";
  if (item["token"] || item["token_file"]) {
    reader.report(item, path + ".token",
                  "Auth-Token needs an extension that core iTop 3.2 lacks (it answers \"Invalid "
                  "login\"): use auth: form or basic with username and password");
  }
  for (const auto& [key, value] : {std::pair{"ci_cache_ttl", &target.ci_cache_ttl},
                                   std::pair{"tombstone_ttl", &target.tombstone_ttl}}) {
    if (item[key]) {
      if (auto d = positiveDuration(reader, item[key], path + "." + key)) {
        *value = *d;
      }
    }
  }
  if (item["update_interval"]) {  // 0s: every update is written
    if (auto d = reader.convert(item["update_interval"], path + ".update_interval",
                                FieldType::Duration)) {
      target.update_interval = std::get<std::chrono::milliseconds>(*d);
    }
  }
  if (!item["organization"]) {
    reader.report(item, path + ".organization", "required field is missing");
  }
  if (target.username.empty() || target.password.empty()) {
    reader.report(item, path + ".username",
                  "username and password are required with auth: " + target.auth);
  }
  if (const YAML::Node map = item["severity_map"]) {
    if (!reader.checkMapping(map, path + ".severity_map",
                             {"critical", "major", "minor", "warning", "info"})) {
      return;
    }
    for (const auto& entry : map) {
      const std::string severity = entry.first.Scalar();
      const std::string entry_path = path + ".severity_map." + severity;
      if (!reader.checkMapping(entry.second, entry_path, {"impact", "urgency"})) {
        continue;
      }
      auto& [impact, urgency] = target.severity_map[severity];
      for (const auto& [key, out, top] :
           {std::tuple{"impact", &impact, 3}, std::tuple{"urgency", &urgency, 4}}) {
        if (entry.second[key]) {
          if (auto v = intAtLeast(reader, entry.second[key], entry_path + "." + key, 1)) {
            *out = static_cast<int>(*v);
            if (*v > top) {
              reader.report(entry.second[key], entry_path + "." + key,
                            "must be at most " + std::to_string(top));
            }
          }
        }
      }
    }
  }
}

}  // namespace

void checkDependencies(const SectionReader& reader, const ProbeNodes& nodes,
                       const std::set<std::string>& declared, const AgentConfig& config) {
  std::map<std::string, const ProbeSpec*> by_name;
  for (const ProbeSpec& spec : config.probes) {
    by_name.emplace(spec.name, &spec);
  }
  for (const ProbeSpec& spec : config.probes) {
    const auto& [path, node] = nodes.at(spec.name);
    for (const std::string& parent : spec.depends_on) {
      if (by_name.count(parent) == 0 && declared.count(parent) == 0) {
        reader.report(node["depends_on"], path + ".depends_on", "unknown probe '" + parent + "'");
      }
    }
    // Walk the parents: meeting the probe itself again is a cycle.
    std::set<std::string> seen;
    std::vector<std::string> pending = spec.depends_on;
    while (!pending.empty()) {
      const std::string name = pending.back();
      pending.pop_back();
      if (name == spec.name) {
        reader.report(node["depends_on"], path + ".depends_on",
                      "dependency cycle through '" + spec.name + "'");
        break;
      }
      auto it = by_name.find(name);
      if (it != by_name.end() && seen.insert(name).second) {
        pending.insert(pending.end(), it->second->depends_on.begin(), it->second->depends_on.end());
      }
    }
  }
}

}  // namespace vigie
