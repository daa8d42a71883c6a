// SPDX-License-Identifier: Apache-2.0
#include "config/yaml_parse.h"

#include <exception>
#include <map>
#include <set>
#include <thread>

namespace vigie {

YAML::Node parseYamlInOwnArena(const std::string& text) {
  YAML::Node root;
  std::exception_ptr parse_error;
  std::thread parser([&] {
    try {
      root = YAML::Load(text);
    } catch (...) {
      parse_error = std::current_exception();
    }
  });
  parser.join();
  if (parse_error) {
    std::rethrow_exception(parse_error);
  }
  return root;
}

std::vector<DuplicateKey> findDuplicateKeys(const YAML::Node& root) {
  std::vector<DuplicateKey> duplicates;
  std::vector<YAML::Node> pending{root};
  // An alias is the node its anchor names, at the anchor's place: each is walked once, or
  // aliases of aliases would make the walk exponential.
  std::set<int> walked;
  while (!pending.empty()) {
    const YAML::Node node = pending.back();
    pending.pop_back();
    if ((node.IsSequence() || node.IsMap()) && !walked.insert(node.Mark().pos).second) {
      continue;
    }
    if (node.IsSequence()) {
      for (const YAML::Node& item : node) {
        pending.push_back(item);
      }
    } else if (node.IsMap()) {
      std::map<std::string, YAML::Mark> seen;
      for (const auto& item : node) {
        if (item.first.IsScalar()) {
          const auto [first, inserted] = seen.emplace(item.first.Scalar(), item.first.Mark());
          if (!inserted) {
            duplicates.push_back({item.first.Scalar(), first->second, item.first.Mark()});
          }
        }
        pending.push_back(item.second);
      }
    }
  }
  return duplicates;
}

ConfigNode toConfigNode(const YAML::Node& node, const std::string& file) {
  const YAML::Mark mark = node.Mark();
  ConfigLocation where = mark.is_null() ? ConfigLocation{file, 0, 0}
                                        : ConfigLocation{file, mark.line + 1, mark.column + 1};
  if (node.IsScalar()) {
    return ConfigNode::scalar(node.Scalar(), std::move(where));
  }
  if (node.IsSequence()) {
    std::vector<ConfigNode> items;
    items.reserve(node.size());
    for (const YAML::Node& item : node) {
      items.push_back(toConfigNode(item, file));
    }
    return ConfigNode::sequence(std::move(items), std::move(where));
  }
  if (node.IsMap()) {
    std::vector<ConfigNode::Entry> entries;
    entries.reserve(node.size());
    for (const auto& item : node) {
      // A non-scalar key has no text: the probe type reports it as an unknown key.
      entries.emplace_back(item.first.IsScalar() ? item.first.Scalar() : std::string(),
                           toConfigNode(item.second, file));
    }
    return ConfigNode::map(std::move(entries), std::move(where));
  }
  return ConfigNode::null(std::move(where));
}

}  // namespace vigie
