// SPDX-License-Identifier: Apache-2.0
#include "util/yaml_parse.h"

#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
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

plugins::PluginDirs readPluginDirs(const std::string& config_path) {
  plugins::PluginDirs found;
  found.base_dir = std::filesystem::path(config_path).parent_path().string();
  YAML::Node root;
  try {
    std::ifstream in(config_path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    root = parseYamlInOwnArena(text.str());
  } catch (const YAML::Exception&) {
    return found;
  }
  // Absent keys give invalid nodes, on which yaml-cpp throws: test each level before using it.
  if (!root.IsMap() || !root["agent"] || !root["agent"].IsMap()) {
    return found;
  }
  const YAML::Node node = root["agent"]["plugin_dirs"];
  if (!node) {
    return found;
  }
  if (node.IsScalar()) {
    found.dirs.push_back(node.Scalar());
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (item.IsScalar()) {
        found.dirs.push_back(item.Scalar());
      }
    }
  }
  const YAML::Mark mark = node.Mark();
  found.where = {config_path, mark.line + 1, mark.column + 1};
  return found;
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
