// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "vigie/config_node.h"

namespace vigie {

/// One problem in a config file, with where it is and which key.
struct ConfigIssue {
  ConfigLocation where;
  std::string key_path;  ///< e.g. probes[2].tcp.address
  std::string message;

  /// "FILE:LINE:COL: KEY: MESSAGE"
  std::string format() const;
};

/// Every problem found in a configuration; thrown at load time only.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

/// String and Secret values expand `${ENV_VAR}` references (`$${` is a literal `${`).
enum class FieldType {
  String,
  Secret,  ///< also settable as `<key>_file: PATH` (file content); never logged
  Int,
  Float,
  Bool,
  Duration,    ///< "500ms", "30s", "1m30s"
  StringList,  ///< a string, or a list of strings
  StringMap,   ///< string keys to string values
  Node,        ///< a ConfigNode tree, validated by the probe type itself (e.g. assertions)
};

std::string_view fieldTypeName(FieldType type);

/// One key of a probe type's config block: fluent-bit's config_map, typed.
struct FieldSpec {
  std::string key;
  FieldType type = FieldType::String;
  bool required = false;
  /// Default written as YAML ("30s", "true", "[]"); absent means "not set".
  std::optional<std::string> default_value{};
  std::string doc{};
  /// For String: the accepted values, empty for any.
  std::vector<std::string> choices{};
};
using ConfigSchema = std::vector<FieldSpec>;

using ConfigValue = std::variant<std::string, std::int64_t, double, bool, std::chrono::milliseconds,
                                 std::vector<std::string>,
                                 std::vector<std::pair<std::string, std::string>>, ConfigNode>;

/// A probe type's block, validated against its schema: every key present has the declared type.
class ProbeConfig {
 public:
  ProbeConfig(std::string probe_name, std::string key_path, ConfigLocation block_location);

  const std::string& probeName() const { return probe_name_; }
  bool has(const std::string& key) const { return values_.count(key) != 0; }

  const std::string& getString(const std::string& key) const;
  std::int64_t getInt(const std::string& key) const;
  double getFloat(const std::string& key) const;
  bool getBool(const std::string& key) const;
  std::chrono::milliseconds getDuration(const std::string& key) const;
  const std::vector<std::string>& getStringList(const std::string& key) const;
  const std::vector<std::pair<std::string, std::string>>& getStringMap(
      const std::string& key) const;
  const ConfigNode& getNode(const std::string& key) const;
  /// A String value naming a file: a relative path is taken from the folder of the config
  /// file that sets the key (probes.d files included), never from the current directory.
  std::string getPath(const std::string& key) const;
  /// `path` (e.g. a list item of `key`) resolved the same way as getPath(key).
  std::string resolvePath(const std::string& key, const std::string& path) const;

  /// Throws a ConfigError that points at `key` (or at the block when the key is absent).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  /// Where `key` is written, or the block itself when it is absent.
  ConfigLocation locationOf(const std::string& key) const;
  std::string keyPath(const std::string& key) const { return key_path_ + "." + key; }

  /// A digest of every value, secrets included: a reload replaces the probe when it changes.
  std::string fingerprint() const;

  void set(const std::string& key, ConfigValue value, ConfigLocation where);

 private:
  template <typename T>
  const T& get(const std::string& key) const;

  std::string probe_name_;
  std::string key_path_;
  ConfigLocation block_location_;
  std::map<std::string, std::pair<ConfigValue, ConfigLocation>> values_;
};

}  // namespace vigie
