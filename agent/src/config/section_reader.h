// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vigie/config_schema.h"

namespace vigie {

/// Reads the sections of one configuration file: every section reports its issues in the same
/// `FILE:LINE:COL: key.path: message` form, converts values and reads secrets the same way.
class SectionReader {
 public:
  /// Issues go to `issues`; relative file names are relative to `base_dir`.
  SectionReader(std::string file, std::filesystem::path base_dir, std::vector<ConfigIssue>& issues)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), issues_(&issues) {}

  ConfigLocation locate(const YAML::Node& node) const;
  void report(const YAML::Node& node, const std::string& path, const std::string& message) const;
  /// Reports every key of `node` that is not in `allowed`; false if `node` is not a mapping.
  bool checkMapping(const YAML::Node& node, const std::string& path,
                    const std::vector<std::string>& allowed) const;
  /// The value of `node` as `type` (strings with ${ENV} expanded); nothing on error (reported).
  /// Strings with a NUL byte are refused, and so are line breaks in values that go into a
  /// request, a header or a command (url, headers, password, command, env...).
  std::optional<ConfigValue> convert(const YAML::Node& node, const std::string& path,
                                     FieldType type) const;
  /// The one reader of secrets: `key` of `parent`, or the content of the file `key_file`
  /// names; empty when neither is set or on error (reported).
  std::string secret(const YAML::Node& parent, const std::string& key_path,
                     const std::string& key) const;
  /// Whether `key` and `key_file` are both set in `parent`, which is an error (reported).
  bool bothSecretForms(const YAML::Node& parent, const std::string& key_path,
                       const std::string& key) const;
  /// The secret in the file `value_file` names, without the trailing newline editors add;
  /// nothing when unreadable (reported).
  std::optional<std::string> secretFromFile(const YAML::Node& value_file,
                                            const std::string& key_path) const;
  /// A file name written in this file: relative ones are taken from its folder.
  std::string resolvePath(const std::string& name) const;

 private:
  std::optional<ConfigValue> convertValue(const YAML::Node& node, const std::string& path,
                                          FieldType type) const;
  /// Reports a NUL byte in `text`, or a line break in a `single_line` value.
  bool refuseControlBytes(const YAML::Node& node, const std::string& path, const std::string& text,
                          bool single_line) const;
  std::optional<std::string> expandEnvironment(const YAML::Node& node, const std::string& path,
                                               const std::string& text) const;

  std::string file_;
  std::filesystem::path base_dir_;
  std::vector<ConfigIssue>* issues_;
};

/// "a, b, c".
std::string joined(const std::vector<std::string>& items);

}  // namespace vigie
