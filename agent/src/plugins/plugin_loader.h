// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigie/registry.h"

namespace vigie::plugins {

/// Loads one plugin (dlopen RTLD_NOW | RTLD_LOCAL) and registers its probe type. Returns why it
/// was refused, naming the file (wrong ABI major, missing entry symbol, duplicate type name...),
/// or an empty string when it was registered.
std::string loadPlugin(const std::string& path, ProbeRegistry& registry);

/// agent.plugin_dirs as the config layer read it, before the probes (which cannot be validated
/// before their types are known).
struct PluginDirs {
  std::vector<std::string> dirs;  ///< relative ones are relative to base_dir
  std::string base_dir;           ///< the config file's folder
  ConfigLocation where;           ///< where agent.plugin_dirs is written, for errors
};

/// Every probe type: the built-in ones, then every *.so in `plugin_dirs`. Throws ConfigError
/// naming each plugin that was refused.
std::shared_ptr<ProbeRegistry> buildRegistry(const PluginDirs& plugin_dirs);

}  // namespace vigie::plugins
