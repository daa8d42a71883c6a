// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/ssl/context.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "http/web_settings.h"

namespace vigie {

/// TLS and basic authentication for the agent's endpoint, read from a file in the shape of the
/// Prometheus exporter toolkit's --web.config.file, so existing scrape configurations work.
struct WebConfig {
  std::string source_file;
  /// Null when the file has no tls_server_config: plain HTTP.
  std::shared_ptr<asio::ssl::context> tls;
  /// User name to bcrypt hash; empty when authentication is off.
  std::map<std::string, std::string> basic_auth_users;
  /// Users of basic_auth_users with the operator role: they may act (acknowledge, silence...).
  std::set<std::string> operators;

  bool isOperator(const std::string& user) const { return operators.count(user) != 0; }
  /// Checks a password against the user's bcrypt hash, in constant time. Slow by design (tens
  /// of milliseconds): call it off the event loop. An unknown user costs the same time.
  bool checkPassword(const std::string& user, const std::string& password) const;
};

/// The endpoint's TLS context and users from checked settings (config/web_config_file parses
/// them). Every file that cannot be loaded is added to `issues`, where the file names it.
std::shared_ptr<const WebConfig> buildWebConfig(const WebSettings& settings,
                                                std::vector<ConfigIssue>& issues);

}  // namespace vigie
