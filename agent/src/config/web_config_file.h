// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http/web_config.h"
#include "http/web_settings.h"

namespace vigie {

/// Reads and checks a web configuration file (the Prometheus exporter toolkit's
/// --web.config.file shape); relative paths inside it are relative to its folder. Problems are
/// added to `issues`; what could be read is returned all the same, so that the files it names
/// are checked too. Throws ConfigError only when the file cannot be read or parsed.
WebSettings parseWebConfig(const std::string& path, std::vector<ConfigIssue>& issues);

/// parseWebConfig, then the endpoint's TLS context built from it (http/); throws ConfigError
/// naming file, line and key for every problem.
std::shared_ptr<const WebConfig> loadWebConfig(const std::string& path);

}  // namespace vigie
