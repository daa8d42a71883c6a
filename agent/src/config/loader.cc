// SPDX-License-Identifier: Apache-2.0
#include "config/loader.h"

#include <glob.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/section_reader.h"
#include "config/sections.h"
#include "config/web_config_file.h"
#include "config/yaml_parse.h"
#include "net/host_port.h"
#include "plugins/plugin_loader.h"
#include "util/bounded_file.h"
#include "util/duration.h"
#include "util/identifiers.h"
#include "util/utf8.h"

namespace vigie {
namespace {

namespace fs = std::filesystem;

// Labels the agent sets itself on every probe metric.
const std::set<std::string> kReservedLabels{"probe", "type", "job", "instance"};

// Collects every problem instead of stopping at the first, so --check-config lists them all.
class Loader {
 public:
  /// With no registry, the loader builds one from agent.plugin_dirs (loadedRegistry()).
  /// With `only_probe`, the other probes and the forwarding section are left unread, so their
  /// ${ENV} references and secret files need not exist (`--probe NAME`).
  explicit Loader(const ProbeRegistry* registry, std::string only_probe = {})
      : registry_(registry), only_probe_(std::move(only_probe)) {}

  AgentConfig load(const std::string& path);
  std::shared_ptr<const ProbeRegistry> loadedRegistry() const { return loaded_registry_; }

 private:
  struct ProbeNode {
    std::string file;
    YAML::Node node;
    std::size_t index;
  };

  // Built field by field: brace-initialising it trips a GCC 12 -Wmaybe-uninitialized false alarm.
  void reportFile(const std::string& file, const std::string& message) {
    ConfigIssue issue;
    issue.where.file = file;
    issue.message = message;
    issues_.push_back(std::move(issue));
  }

  /// The section reader of `file`: every check and conversion goes through it.
  /// Relative file names in `file` (probes.d ones included) are taken from its own folder.
  SectionReader readerFor(const std::string& file) {
    return {file, fs::path(file).parent_path(), issues_};
  }
  ConfigLocation locate(const std::string& file, const YAML::Node& node) {
    return readerFor(file).locate(node);
  }
  void report(const std::string& file, const YAML::Node& node, const std::string& path,
              const std::string& message) {
    readerFor(file).report(node, path, message);
  }
  bool checkMapping(const std::string& file, const YAML::Node& node, const std::string& path,
                    const std::vector<std::string>& allowed) {
    return readerFor(file).checkMapping(node, path, allowed);
  }
  std::optional<ConfigValue> convert(const std::string& file, const YAML::Node& node,
                                     const std::string& path, FieldType type) {
    return readerFor(file).convert(node, path, type);
  }

  /// `included_by`/`include_node`: the file and the `include` entry that named `file`, where
  /// an unreadable file is reported.
  std::optional<YAML::Node> parseFile(const std::string& file, const std::string& included_by = {},
                                      const YAML::Node& include_node = YAML::Node());
  void loadAgentSection(const std::string& file, const YAML::Node& node, AgentConfig& config);
  void loadDefaults(const std::string& file, const YAML::Node& node, AgentConfig& config);
  void collectProbes(const std::string& file, const YAML::Node& node,
                     std::vector<ProbeNode>& probes);
  void loadIncludes(const std::string& file, const YAML::Node& node,
                    std::vector<ProbeNode>& probes);
  std::optional<ProbeSpec> loadProbe(const ProbeNode& entry, const AgentConfig& config);
  std::optional<ProbeConfig> loadTypeBlock(const std::string& file, const YAML::Node& probe,
                                           const std::string& name, const std::string& path,
                                           const ProbeFactory& factory);

  void loadPlugins(const AgentSettings& agent);
  /// Warns about labels that look like a conventional one but are not (env, datacenter...).
  void warnAboutLabels(const std::string& file, const YAML::Node& probe, const ProbeSpec& spec,
                       AgentConfig& config);

  const ProbeRegistry* registry_;
  std::string only_probe_;
  std::shared_ptr<const ProbeRegistry> loaded_registry_;
  ConfigLocation plugin_dirs_at_;
  std::vector<ConfigIssue> issues_;
  fs::path base_dir_;
};

std::optional<YAML::Node> Loader::parseFile(const std::string& file, const std::string& included_by,
                                            const YAML::Node& include_node) {
  std::string error;
  const auto text = readRegularFile(file, kMaxConfigFileBytes, error);
  if (!text && !included_by.empty()) {
    report(included_by, include_node, "include", error);
    return std::nullopt;
  }
  if (!text) {
    reportFile(file, error);
    return std::nullopt;
  }
  YAML::Node root;
  try {
    root = parseYamlInOwnArena(*text);
  } catch (const YAML::ParserException& e) {
    issues_.push_back({{file, e.mark.line + 1, e.mark.column + 1}, "", "invalid YAML: " + e.msg});
    return std::nullopt;
  }
  // The loader is strict: a key written twice is a mistake, not "the first one wins".
  for (const DuplicateKey& duplicate : findDuplicateKeys(root)) {
    issues_.push_back({{file, duplicate.second.line + 1, duplicate.second.column + 1},
                       cutText(duplicate.key, 64),
                       "duplicate key (first written at line " +
                           std::to_string(duplicate.first.line + 1) + ", column " +
                           std::to_string(duplicate.first.column + 1) + ")"});
  }
  return root;
}

void Loader::loadAgentSection(const std::string& file, const YAML::Node& node,
                              AgentConfig& config) {
  AgentSettings& agent = config.agent;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) {
    agent.name = host;
  }
  // Without the tz database the default zone is missing too: human times fall back to UTC.
  agent.zone = findZone(agent.timezone);
  if (!node) {
    return;
  }
  // Unknown keys are reported and the known ones still checked: every error in one pass.
  checkMapping(file, node, "agent",
               {"name", "listen", "socket", "state_dir", "max_concurrent_probes", "log_level",
                "web_config_file", "plugin_dirs", "timezone", "unreachable_when"});
  if (!node.IsMap()) {
    return;
  }
  auto text = [&](const char* key, std::string& out) {
    if (node[key]) {
      if (auto value = convert(file, node[key], std::string("agent.") + key, FieldType::String)) {
        out = std::get<std::string>(*value);
      }
    }
  };
  text("name", agent.name);
  text("state_dir", agent.state_dir);
  if (node["plugin_dirs"]) {
    plugin_dirs_at_ = locate(file, node["plugin_dirs"]);
    if (auto dirs =
            convert(file, node["plugin_dirs"], "agent.plugin_dirs", FieldType::StringList)) {
      for (const std::string& dir : std::get<std::vector<std::string>>(*dirs)) {
        const fs::path folder(dir);
        agent.plugin_dirs.push_back((folder.is_relative() ? base_dir_ / folder : folder).string());
      }
    }
  }
  text("log_level", agent.log_level);
  if (node["log_level"] && agent.log_level != "debug" && agent.log_level != "info" &&
      agent.log_level != "warning" && agent.log_level != "error") {
    report(file, node["log_level"], "agent.log_level",
           "must be one of debug, info, warning, error");
  }
  text("timezone", agent.timezone);
  agent.zone = findZone(agent.timezone);
  if (node["timezone"] && agent.zone == nullptr) {
    report(file, node["timezone"], "agent.timezone",
           "unknown time zone '" + agent.timezone +
               "' (a name of the tz database, e.g. Europe/Paris or UTC)");
  }
  if (node["unreachable_when"]) {
    std::string when;
    text("unreachable_when", when);
    if (when != "parent_failing" && when != "parent_hard") {
      report(file, node["unreachable_when"], "agent.unreachable_when",
             "must be one of parent_failing, parent_hard, got '" + when + "'");
    }
    agent.unreachable_when_hard = when == "parent_hard";
  }
  if (node["listen"]) {
    std::string listen;
    text("listen", listen);
    if (const auto address = parseHostPort(listen, /*allow_port_zero=*/true)) {
      agent.listen_host = address->host;
      agent.listen_port = address->port;
    } else {
      report(file, node["listen"], "agent.listen",
             "expected HOST:PORT, e.g. \"127.0.0.1:9465\" or \"[::1]:9465\", got '" + listen + "'");
    }
  }
  if (node["max_concurrent_probes"]) {
    if (auto value = convert(file, node["max_concurrent_probes"], "agent.max_concurrent_probes",
                             FieldType::Int)) {
      agent.max_concurrent_probes = std::get<std::int64_t>(*value);
      if (agent.max_concurrent_probes < 1) {
        report(file, node["max_concurrent_probes"], "agent.max_concurrent_probes",
               "must be at least 1");
      }
    }
  }
  if (node["socket"]) {
    agent.socket_configured = true;
    text("socket", agent.socket);
    if (!agent.socket.empty()) {
      const fs::path socket_file(agent.socket);
      agent.socket = (socket_file.is_relative() ? base_dir_ / socket_file : socket_file).string();
      // sun_path holds 108 bytes with its terminating NUL.
      if (agent.socket.size() > 107) {
        report(file, node["socket"], "agent.socket",
               "path too long for a Unix socket (at most 107 bytes): '" + agent.socket + "'");
      }
    }
  }
  text("web_config_file", agent.web_config_file);
  if (!agent.web_config_file.empty()) {
    const fs::path web_file(agent.web_config_file);
    agent.web_config_file = (web_file.is_relative() ? base_dir_ / web_file : web_file).string();
    try {
      agent.web = loadWebConfig(agent.web_config_file);
    } catch (const ConfigError& e) {
      for (ConfigIssue issue : e.issues()) {
        if (issue.where.line == 0) {  // the file as a whole: said where it is named
          issue.where = locate(file, node["web_config_file"]);
          issue.key_path = "agent.web_config_file";
        }
        issues_.push_back(std::move(issue));
      }
    }
  }
}

void Loader::loadDefaults(const std::string& file, const YAML::Node& node, AgentConfig& config) {
  if (!node || !checkMapping(file, node, "defaults", {"interval", "timeout"})) {
    return;
  }
  for (const auto& [key, target] : {std::pair{"interval", &config.default_interval},
                                    std::pair{"timeout", &config.default_timeout}}) {
    if (node[key]) {
      if (auto value =
              convert(file, node[key], std::string("defaults.") + key, FieldType::Duration)) {
        *target = std::get<std::chrono::milliseconds>(*value);
        if (target->count() <= 0) {
          report(file, node[key], std::string("defaults.") + key, "must be greater than 0s");
        }
      }
    }
  }
}

void Loader::collectProbes(const std::string& file, const YAML::Node& node,
                           std::vector<ProbeNode>& probes) {
  if (!node) {
    return;
  }
  if (!node.IsSequence()) {
    report(file, node, "probes", "expected a list of probes");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    probes.push_back({file, node[i], i});
  }
}

void Loader::loadIncludes(const std::string& file, const YAML::Node& node,
                          std::vector<ProbeNode>& probes) {
  if (!node) {
    return;
  }
  const auto patterns = convert(file, node, "include", FieldType::StringList);
  if (!patterns) {
    return;
  }
  for (const std::string& pattern : std::get<std::vector<std::string>>(*patterns)) {
    const fs::path full = fs::path(pattern).is_absolute() ? fs::path(pattern) : base_dir_ / pattern;
    glob_t matches{};
    const int rc = glob(full.c_str(), GLOB_ERR, nullptr, &matches);
    if (rc != 0 && rc != GLOB_NOMATCH) {
      report(file, node, "include", "cannot list " + full.string());
    }
    std::vector<std::string> files(matches.gl_pathv, matches.gl_pathv + matches.gl_pathc);
    globfree(&matches);
    for (const std::string& included : files) {
      const auto root = parseFile(included, file, node);
      if (!root || root->IsNull()) {
        continue;
      }
      if (checkMapping(included, *root, "", {"probes"})) {
        collectProbes(included, (*root)["probes"], probes);
      }
    }
  }
}

std::optional<ProbeConfig> Loader::loadTypeBlock(const std::string& file, const YAML::Node& probe,
                                                 const std::string& name, const std::string& path,
                                                 const ProbeFactory& factory) {
  const std::string type(factory.type());
  const YAML::Node block = probe[type];
  const std::string block_path = path + "." + type;
  ProbeConfig config(name, block_path, locate(file, block ? block : probe));
  const ConfigSchema& schema = factory.schema();

  std::vector<std::string> allowed;
  for (const FieldSpec& field : schema) {
    allowed.push_back(field.key);
    if (field.type == FieldType::Secret) {
      allowed.push_back(field.key + "_file");
    }
  }
  const bool has_block = block && !block.IsNull();
  if (has_block && !checkMapping(file, block, block_path, allowed) && !block.IsMap()) {
    return std::nullopt;
  }
  // An unknown key (reported above) leaves the known ones whole: the type still checks them.
  const std::size_t issues_before = issues_.size();
  for (const FieldSpec& field : schema) {
    const std::string key_path = block_path + "." + field.key;
    // A default-constructed YAML::Node is a defined null; absent keys must stay undefined.
    const YAML::Node absent(YAML::NodeType::Undefined);
    const YAML::Node value = has_block ? block[field.key] : absent;
    const YAML::Node value_file =
        has_block && field.type == FieldType::Secret ? block[field.key + "_file"] : absent;
    if (value_file && readerFor(file).bothSecretForms(block, block_path, field.key)) {
      continue;
    }
    if (value_file) {
      if (auto secret = readerFor(file).secretFromFile(value_file, key_path + "_file")) {
        config.set(field.key, std::move(*secret), locate(file, value_file));
      }
      continue;
    }
    if (value) {
      auto converted = convert(file, value, key_path, field.type);
      if (!converted) {
        continue;
      }
      if (!field.choices.empty() &&
          std::find(field.choices.begin(), field.choices.end(),
                    std::get<std::string>(*converted)) == field.choices.end()) {
        report(file, value, key_path,
               "must be one of " + joined(field.choices) + ", got '" +
                   std::get<std::string>(*converted) + "'");
        continue;
      }
      config.set(field.key, std::move(*converted), locate(file, value));
      continue;
    }
    if (field.required) {
      report(file, has_block ? block : probe, key_path, "required field is missing");
      continue;
    }
    if (field.default_value) {
      // String defaults are literal text ("" included), others are YAML ("30s", "[]", "true").
      const bool literal = field.type == FieldType::String || field.type == FieldType::Secret;
      const YAML::Node default_node =
          literal ? YAML::Node(*field.default_value) : YAML::Load(*field.default_value);
      auto converted = convert(file, default_node, key_path + " (default)", field.type);
      if (converted) {
        config.set(field.key, std::move(*converted), locate(file, has_block ? block : probe));
      }
    }
  }
  if (issues_.size() != issues_before) {
    return std::nullopt;
  }
  return config;
}

std::optional<ProbeSpec> Loader::loadProbe(const ProbeNode& entry, const AgentConfig& config) {
  const std::string& file = entry.file;
  const YAML::Node& node = entry.node;
  std::string path = "probes[" + std::to_string(entry.index) + "]";
  if (node.IsMap() && node["name"] && node["name"].IsScalar() &&
      isProbeName(node["name"].Scalar())) {
    // Errors name the probe: "probes[portal-health].http.url" says where to look.
    path = "probes[" + node["name"].Scalar() + "]";
  }
  if (!node.IsMap()) {
    report(file, node, path, "expected a mapping with at least name and type");
    return std::nullopt;
  }
  const std::size_t issues_before = issues_.size();
  ProbeSpec spec;
  spec.location = locate(file, node);

  if (!node["name"]) {
    report(file, node, path + ".name", "required field is missing");
  } else if (auto name = convert(file, node["name"], path + ".name", FieldType::String)) {
    spec.name = std::get<std::string>(*name);
    if (!isProbeName(spec.name)) {
      report(file, node["name"], path + ".name",
             "'" + cutText(spec.name, 64) + "' is not a valid probe name (use a-z, 0-9, '_', " +
                 "'.', '-', at most " + std::to_string(kMaxIdentifierBytes) + " characters)");
    }
  }

  const ProbeFactory* factory = nullptr;
  if (!node["type"]) {
    report(file, node, path + ".type",
           "required field is missing (known types: " + joined(registry_->names()) + ")");
  } else if (auto type = convert(file, node["type"], path + ".type", FieldType::String)) {
    spec.type = std::get<std::string>(*type);
    factory = registry_->find(spec.type);
    if (factory == nullptr) {
      report(file, node["type"], path + ".type",
             "unknown probe type '" + spec.type + "' (known types: " + joined(registry_->names()) +
                 ")");
    }
  }

  std::vector<std::string> allowed{"name", "type", "labels", "interval", "timeout"};
  allowed.insert(allowed.end(), kProbeAlertingKeys.begin(), kProbeAlertingKeys.end());
  if (factory != nullptr) {
    allowed.emplace_back(factory->type());
  }
  checkMapping(file, node, path, allowed);

  if (node["labels"]) {
    if (auto labels = convert(file, node["labels"], path + ".labels", FieldType::StringMap)) {
      spec.labels = std::get<Labels>(*labels);
      for (const auto& [label, value] : spec.labels) {
        if (!isLabelName(label) || label.rfind("__", 0) == 0) {
          report(file, node["labels"], path + ".labels." + cutText(label, 64),
                 "'" + cutText(label, 64) + "' is not a valid Prometheus label name" +
                     (label.size() > kMaxIdentifierBytes
                          ? " (at most " + std::to_string(kMaxIdentifierBytes) + " characters)"
                          : std::string()));
        } else if (kReservedLabels.count(label) != 0) {
          report(file, node["labels"], path + ".labels." + label,
                 "'" + label + "' is set by the agent itself; choose another label name");
        }
      }
    }
  }

  spec.interval = config.default_interval;
  spec.timeout = config.default_timeout;
  for (const auto& [key, target] :
       {std::pair{"interval", &spec.interval}, std::pair{"timeout", &spec.timeout}}) {
    if (node[key]) {
      if (auto value = convert(file, node[key], path + "." + key, FieldType::Duration)) {
        *target = std::get<std::chrono::milliseconds>(*value);
        if (target->count() <= 0) {
          report(file, node[key], path + "." + key, "must be greater than 0s");
        }
      }
    }
  }
  loadProbeAlerting(readerFor(file), node, path, spec);
  if (spec.timeout > spec.interval) {
    report(file, node["timeout"] ? node["timeout"] : node, path + ".timeout",
           "timeout (" + formatDuration(spec.timeout) + ") must not exceed interval (" +
               formatDuration(spec.interval) + ")");
  }

  // The type block is checked even when the keys above had errors: every error in one pass.
  if (factory == nullptr) {
    return std::nullopt;
  }
  auto block = loadTypeBlock(file, node, spec.name, path, *factory);
  if (!block) {
    return std::nullopt;
  }
  try {
    spec.probe = factory->create(*block);
  } catch (const ConfigError& e) {
    issues_.insert(issues_.end(), e.issues().begin(), e.issues().end());
    return std::nullopt;
  } catch (const std::exception& e) {
    report(file, node, path, "probe type '" + spec.type + "' rejected the probe: " + e.what());
    return std::nullopt;
  }
  if (issues_.size() != issues_before) {
    return std::nullopt;
  }
  std::string labels_text;
  for (const auto& [label, value] : spec.labels) {
    labels_text += label + '=' + value + ';';
  }
  spec.fingerprint = spec.type + '|' + std::to_string(spec.interval.count()) + '|' +
                     std::to_string(spec.timeout.count()) + '|' + labels_text + '|' +
                     block->fingerprint();
  return spec;
}

AgentConfig Loader::load(const std::string& path) {
  AgentConfig config;
  config.source_file = path;
  base_dir_ = fs::path(path).parent_path();
  const auto root = parseFile(path);
  if (!root) {
    throw ConfigError(issues_);
  }
  if (root->IsNull()) {
    reportFile(path, "the file is empty");
    throw ConfigError(issues_);
  }
  if (!checkMapping(path, *root, "",
                    {"agent", "include", "defaults", "probes", "maintenance", "forwarding"}) &&
      !root->IsMap()) {
    throw ConfigError(issues_);
  }
  loadAgentSection(path, (*root)["agent"], config);
  if (registry_ == nullptr) {
    loadPlugins(config.agent);
  }
  loadDefaults(path, (*root)["defaults"], config);
  loadMaintenance(readerFor(path), (*root)["maintenance"], config);
  if (only_probe_.empty()) {
    loadForwarding(readerFor(path), (*root)["forwarding"], config);
  }

  std::vector<ProbeNode> probe_nodes;
  collectProbes(path, (*root)["probes"], probe_nodes);
  loadIncludes(path, (*root)["include"], probe_nodes);

  std::map<std::string, ConfigLocation> seen;
  ProbeNodes written_at;
  // Probes declared with a name, valid or not: depending on one with errors of its own is not
  // one more error ("unknown probe" would only repeat them).
  std::set<std::string> declared;
  for (const ProbeNode& entry : probe_nodes) {
    if (!only_probe_.empty() &&
        !(entry.node.IsMap() && entry.node["name"] && entry.node["name"].IsScalar() &&
          entry.node["name"].Scalar() == only_probe_)) {
      continue;
    }
    if (entry.node.IsMap() && entry.node["name"] && entry.node["name"].IsScalar()) {
      declared.insert(entry.node["name"].Scalar());
    }
    auto spec = loadProbe(entry, config);
    if (!spec) {
      continue;
    }
    const auto [first, inserted] = seen.emplace(spec->name, spec->location);
    if (!inserted) {
      report(entry.file, entry.node["name"], "probes[" + std::to_string(entry.index) + "].name",
             "duplicate probe name '" + spec->name + "' (first defined at " + first->second.file +
                 ":" + std::to_string(first->second.line) + ")");
      continue;
    }
    warnAboutLabels(entry.file, entry.node, *spec, config);
    written_at.emplace(spec->name, std::pair{"probes[" + spec->name + "]", entry.node});
    config.probes.push_back(std::move(*spec));
  }
  if (only_probe_.empty()) {
    checkDependencies(readerFor(path), written_at, declared, config);
  }
  if (!issues_.empty()) {
    throw ConfigError(issues_);
  }
  return config;
}

void Loader::warnAboutLabels(const std::string& file, const YAML::Node& probe,
                             const ProbeSpec& spec, AgentConfig& config) {
  // The labels events read (docs/CONFIGURATION.md, "Labels"), and names seen in their place.
  static const std::map<std::string, std::string> kNearMisses{{"env", "environment"},
                                                              {"envir", "environment"},
                                                              {"environement", "environment"},
                                                              {"environnement", "environment"},
                                                              {"enviroment", "environment"},
                                                              {"environment_name", "environment"},
                                                              {"application", "app"},
                                                              {"appli", "app"},
                                                              {"app_name", "app"},
                                                              {"application_name", "app"},
                                                              {"hosting", "hosting_center"},
                                                              {"hosting_centre", "hosting_center"},
                                                              {"hostingcenter", "hosting_center"},
                                                              {"datacenter", "hosting_center"},
                                                              {"data_center", "hosting_center"},
                                                              {"datacentre", "hosting_center"},
                                                              {"dc", "hosting_center"},
                                                              {"ci_name", "ci"},
                                                              {"cmdb_ci", "ci"},
                                                              {"configuration_item", "ci"}};
  for (const auto& [label, value] : spec.labels) {
    std::string lower = label;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto miss = kNearMisses.find(lower);
    std::string wanted = miss != kNearMisses.end() ? miss->second : "";
    if (wanted.empty() && lower != label &&
        (lower == "app" || lower == "environment" || lower == "hosting_center" || lower == "ci")) {
      wanted = lower;
    }
    if (wanted.empty() || std::any_of(spec.labels.begin(), spec.labels.end(),
                                      [&](const auto& other) { return other.first == wanted; })) {
      continue;
    }
    config.warnings.push_back({locate(file, probe["labels"]),
                               "probes[" + spec.name + "].labels." + label,
                               "did you mean '" + wanted + "'? Events and tickets read '" + wanted +
                                   "' (docs/CONFIGURATION.md, \"Labels\")"});
  }
}

// The probes cannot be validated before their types are known: a plugin refused stops the load
// here, with what the agent section had, rather than as one "unknown type" per probe.
void Loader::loadPlugins(const AgentSettings& agent) {
  try {
    loaded_registry_ =
        plugins::buildRegistry({agent.plugin_dirs, base_dir_.string(), plugin_dirs_at_});
  } catch (const ConfigError& e) {
    issues_.insert(issues_.end(), e.issues().begin(), e.issues().end());
    throw ConfigError(issues_);
  }
  registry_ = loaded_registry_.get();
}

}  // namespace

LoadedConfig loadConfig(const std::string& path) { return loadConfig(path, std::string()); }

LoadedConfig loadConfig(const std::string& path, const std::string& only_probe) {
  Loader loader(nullptr, only_probe);
  AgentConfig config = loader.load(path);
  // The parsed documents are gone now: hand their pages back to the system.
  malloc_trim(0);
  return {loader.loadedRegistry(), std::move(config)};
}

AgentConfig loadConfig(const std::string& path, const ProbeRegistry& registry) {
  AgentConfig config = Loader(&registry).load(path);
  malloc_trim(0);
  return config;
}

}  // namespace vigie
