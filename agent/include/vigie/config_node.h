// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigie {

/// A place in a config file, 1-based as editors show it.
struct ConfigLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

/// A config value a probe type validates itself (FieldType::Node, e.g. a list of assertions):
/// a scalar, a sequence or a map, each node with where it is written. Built by the config layer
/// from the parsed file, so no parser type reaches a probe or a plugin.
class ConfigNode {
 public:
  enum class Kind { Null, Scalar, Sequence, Map };
  using Entry = std::pair<std::string, ConfigNode>;

  ConfigNode() = default;
  static ConfigNode null(ConfigLocation where);
  static ConfigNode scalar(std::string text, ConfigLocation where);
  static ConfigNode sequence(std::vector<ConfigNode> items, ConfigLocation where);
  static ConfigNode map(std::vector<Entry> entries, ConfigLocation where);

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isScalar() const { return kind_ == Kind::Scalar; }
  bool isSequence() const { return kind_ == Kind::Sequence; }
  bool isMap() const { return kind_ == Kind::Map; }

  /// The text of a scalar; empty for any other kind.
  const std::string& text() const { return text_; }
  /// The items of a sequence; empty for any other kind.
  const std::vector<ConfigNode>& items() const { return items_; }
  /// The entries of a map, in file order; empty for any other kind.
  const std::vector<Entry>& entries() const { return entries_; }
  /// The value of `key` in a map; nullptr when absent or not a map.
  const ConfigNode* find(std::string_view key) const;
  /// Items of a sequence or entries of a map; 0 for a scalar or null.
  std::size_t size() const;
  const ConfigLocation& location() const { return location_; }

  /// A flow-style rendering with every scalar quoted, e.g. `[{path: "$.a", equals: "1"}]`: the
  /// same for equal trees, so it can go into fingerprints.
  std::string canonical() const;

 private:
  Kind kind_ = Kind::Null;
  std::string text_;
  std::vector<ConfigNode> items_;
  std::vector<Entry> entries_;
  ConfigLocation location_;
};

}  // namespace vigie
