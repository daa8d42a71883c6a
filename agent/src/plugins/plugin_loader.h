// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>

#include "vigie/registry.h"

namespace vigie::plugins {

/// Loads one plugin (dlopen RTLD_NOW | RTLD_LOCAL) and registers its probe type. Returns why it
/// was refused, naming the file (wrong ABI major, missing entry symbol, duplicate type name...),
/// or an empty string when it was registered.
std::string loadPlugin(const std::string& path, ProbeRegistry& registry);

/// Every probe type for the configuration at `config_path`: the built-in ones, then every *.so
/// in its agent.plugin_dirs (read by a small pre-pass, since the probes cannot be validated
/// before their types are known). Throws ConfigError naming each plugin that was refused; a file
/// that cannot be parsed is left to loadConfig() to report.
std::shared_ptr<ProbeRegistry> buildRegistry(const std::string& config_path);

}  // namespace vigie::plugins
