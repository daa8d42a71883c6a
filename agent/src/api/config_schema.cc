// SPDX-License-Identifier: Apache-2.0
#include "vigie/config_schema.h"

#include <filesystem>
#include <functional>
#include <sstream>

namespace vigie {
namespace {

std::string joinMessages(const std::vector<ConfigIssue>& issues) {
  std::string text;
  for (const ConfigIssue& issue : issues) {
    if (!text.empty()) {
      text += '\n';
    }
    text += issue.format();
  }
  return text;
}

// Canonical text of a value for fingerprints; secrets are digested with everything else.
std::string canonical(const ConfigValue& value) {
  std::ostringstream out;
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
          out << v.count() << "ms";
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          for (const auto& item : v) {
            out << item.size() << ':' << item << ',';
          }
        } else if constexpr (std::is_same_v<T, std::vector<std::pair<std::string, std::string>>>) {
          for (const auto& [k, item] : v) {
            out << k.size() << ':' << k << '=' << item.size() << ':' << item << ',';
          }
        } else if constexpr (std::is_same_v<T, ConfigNode>) {
          out << v.canonical();
        } else {
          out << v;
        }
      },
      value);
  return out.str();
}

}  // namespace

std::string ConfigIssue::format() const {
  std::string text = where.file;
  if (where.line > 0) {
    text += ':' + std::to_string(where.line) + ':' + std::to_string(where.column);
  }
  text += ": ";
  if (!key_path.empty()) {
    text += key_path + ": ";
  }
  return text + message;
}

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : std::runtime_error(joinMessages(issues)), issues_(std::move(issues)) {}

std::string_view fieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::String:
      return "string";
    case FieldType::Secret:
      return "secret";
    case FieldType::Int:
      return "integer";
    case FieldType::Float:
      return "number";
    case FieldType::Bool:
      return "boolean";
    case FieldType::Duration:
      return "duration";
    case FieldType::StringList:
      return "list of strings";
    case FieldType::StringMap:
      return "map of strings";
    case FieldType::Node:
      return "YAML value";
  }
  return "unknown";
}

ProbeConfig::ProbeConfig(std::string probe_name, std::string key_path,
                         ConfigLocation block_location)
    : probe_name_(std::move(probe_name)),
      key_path_(std::move(key_path)),
      block_location_(std::move(block_location)) {}

template <typename T>
const T& ProbeConfig::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    // A probe asked for a key its schema does not declare or that has no default: a bug.
    throw std::logic_error("config key '" + keyPath(key) + "' read but not set");
  }
  return std::get<T>(it->second.first);
}

const std::string& ProbeConfig::getString(const std::string& key) const {
  return get<std::string>(key);
}
std::int64_t ProbeConfig::getInt(const std::string& key) const { return get<std::int64_t>(key); }
double ProbeConfig::getFloat(const std::string& key) const { return get<double>(key); }
bool ProbeConfig::getBool(const std::string& key) const { return get<bool>(key); }
std::chrono::milliseconds ProbeConfig::getDuration(const std::string& key) const {
  return get<std::chrono::milliseconds>(key);
}
const std::vector<std::string>& ProbeConfig::getStringList(const std::string& key) const {
  return get<std::vector<std::string>>(key);
}
const std::vector<std::pair<std::string, std::string>>& ProbeConfig::getStringMap(
    const std::string& key) const {
  return get<std::vector<std::pair<std::string, std::string>>>(key);
}
const ConfigNode& ProbeConfig::getNode(const std::string& key) const {
  return get<ConfigNode>(key);
}
std::string ProbeConfig::getPath(const std::string& key) const {
  return resolvePath(key, getString(key));
}
std::string ProbeConfig::resolvePath(const std::string& key, const std::string& path) const {
  const std::filesystem::path named(path);
  if (path.empty() || named.is_absolute()) {
    return path;
  }
  return (std::filesystem::path(locationOf(key).file).parent_path() / named).string();
}

ConfigNode ConfigNode::null(ConfigLocation where) {
  ConfigNode node;
  node.location_ = std::move(where);
  return node;
}

ConfigNode ConfigNode::scalar(std::string text, ConfigLocation where) {
  ConfigNode node = null(std::move(where));
  node.kind_ = Kind::Scalar;
  node.text_ = std::move(text);
  return node;
}

ConfigNode ConfigNode::sequence(std::vector<ConfigNode> items, ConfigLocation where) {
  ConfigNode node = null(std::move(where));
  node.kind_ = Kind::Sequence;
  node.items_ = std::move(items);
  return node;
}

ConfigNode ConfigNode::map(std::vector<Entry> entries, ConfigLocation where) {
  ConfigNode node = null(std::move(where));
  node.kind_ = Kind::Map;
  node.entries_ = std::move(entries);
  return node;
}

const ConfigNode* ConfigNode::find(std::string_view key) const {
  for (const auto& [name, value] : entries_) {
    if (name == key) {
      return &value;
    }
  }
  return nullptr;
}

std::size_t ConfigNode::size() const {
  return kind_ == Kind::Sequence ? items_.size() : kind_ == Kind::Map ? entries_.size() : 0;
}

std::string ConfigNode::canonical() const {
  auto quoted = [](const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    return out + '"';
  };
  std::string out;
  switch (kind_) {
    case Kind::Null:
      return "~";
    case Kind::Scalar:
      return quoted(text_);
    case Kind::Sequence:
      for (const ConfigNode& item : items_) {
        out += (out.empty() ? "" : ", ") + item.canonical();
      }
      return "[" + out + "]";
    case Kind::Map:
      for (const auto& [key, value] : entries_) {
        out += (out.empty() ? "" : ", ") + quoted(key) + ": " + value.canonical();
      }
      return "{" + out + "}";
  }
  return out;
}

ConfigLocation ProbeConfig::locationOf(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? block_location_ : it->second.second;
}

void ProbeConfig::fail(const std::string& key, const std::string& message) const {
  throw ConfigError({ConfigIssue{locationOf(key), keyPath(key), message}});
}

std::string ProbeConfig::fingerprint() const {
  std::string text;
  for (const auto& [key, entry] : values_) {
    text += key + '=' + canonical(entry.first) + ';';
  }
  return std::to_string(std::hash<std::string>{}(text));
}

void ProbeConfig::set(const std::string& key, ConfigValue value, ConfigLocation where) {
  values_[key] = {std::move(value), std::move(where)};
}

}  // namespace vigie
