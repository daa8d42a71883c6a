// SPDX-License-Identifier: Apache-2.0
#include "config/web_config_file.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "config/yaml_parse.h"
#include "util/bounded_file.h"

namespace vigie {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, ClientAuth> kClientAuthTypes{
    {"NoClientCert", ClientAuth::None},
    {"RequestClientCert", ClientAuth::Request},
    {"RequireAnyClientCert", ClientAuth::RequireAny},
    {"VerifyClientCertIfGiven", ClientAuth::VerifyIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::RequireAndVerify},
};

const std::regex kBcryptHash(R"(\$2[aby]\$[0-3][0-9]\$[./A-Za-z0-9]{53})");

const std::map<std::string, TlsVersion> kTlsVersions{{"TLS10", TlsVersion::Tls10},
                                                     {"TLS11", TlsVersion::Tls11},
                                                     {"TLS12", TlsVersion::Tls12},
                                                     {"TLS13", TlsVersion::Tls13}};

class WebConfigParser {
 public:
  WebConfigParser(std::string path, std::vector<ConfigIssue>& issues)
      : path_(std::move(path)), issues_(issues) {}

  WebSettings parse();
  /// A file it names is special (a FIFO, a device): OpenSSL must not be handed it.
  bool namesSpecialFile() const { return names_special_file_; }

 private:
  ConfigLocation locate(const YAML::Node& node) const {
    ConfigLocation where;
    where.file = path_;
    if (node && !node.Mark().is_null()) {
      where.line = node.Mark().line + 1;
      where.column = node.Mark().column + 1;
    }
    return where;
  }

  void fail(const YAML::Node& node, const std::string& key, const std::string& message) {
    ConfigIssue issue;
    issue.where = locate(node);
    issue.key_path = key;
    issue.message = message;
    issues_.push_back(std::move(issue));
  }

  bool checkKeys(const YAML::Node& node, const std::string& key,
                 const std::set<std::string>& known);
  std::string text(const YAML::Node& node, const std::string& key);
  WebFile filePath(const YAML::Node& node, const std::string& key);
  void loadTls(const YAML::Node& node, WebSettings& settings);
  void loadUsers(const YAML::Node& node, WebSettings& settings);
  void loadRoles(const YAML::Node& node, WebSettings& settings);

  std::string path_;
  std::vector<ConfigIssue>& issues_;
  bool names_special_file_ = false;
};

bool WebConfigParser::checkKeys(const YAML::Node& node, const std::string& key,
                                const std::set<std::string>& known) {
  if (!node.IsMap()) {
    fail(node, key, "expected a mapping");
    return false;
  }
  for (const auto& item : node) {
    const std::string name = item.first.Scalar();
    if (!known.count(name)) {
      fail(
          item.first,
          key.empty() ? name : key + "." + name, "unknown or unsupported key (supported: " + [&] {
            std::string list;
            for (const std::string& k : known) {
              list.append(list.empty() ? "" : ", ").append(k);
            }
            return list;
          }() + ")");
    }
  }
  return true;
}

std::string WebConfigParser::text(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) {
    fail(node, key, "expected a string");
    return {};
  }
  return node.Scalar();
}

WebFile WebConfigParser::filePath(const YAML::Node& node, const std::string& key) {
  WebFile file{text(node, key), locate(node)};
  if (!file.path.empty() && fs::path(file.path).is_relative()) {
    file.path = (fs::path(path_).parent_path() / file.path).string();
  }
  // OpenSSL would block on a FIFO and read a device without end. (A missing file is reported
  // when the TLS context is built, with the other errors.)
  std::error_code ec;
  if (std::string error; !file.path.empty() && fs::exists(file.path, ec) &&
                         !readRegularFile(file.path, kMaxConfigFileBytes, error)) {
    fail(node, key, error);
    names_special_file_ = true;
  }
  return file;
}

void WebConfigParser::loadTls(const YAML::Node& node, WebSettings& settings) {
  const std::string key = "tls_server_config";
  if (!checkKeys(node, key,
                 {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
                  "max_version"})) {
    return;
  }
  if (!node["cert_file"] || !node["key_file"]) {
    fail(node, key, "cert_file and key_file are both required");
    return;
  }
  WebTlsSettings tls;
  tls.cert_file = filePath(node["cert_file"], key + ".cert_file");
  tls.key_file = filePath(node["key_file"], key + ".key_file");
  if (node["client_auth_type"]) {
    const std::string name = text(node["client_auth_type"], key + ".client_auth_type");
    auto found = kClientAuthTypes.find(name);
    if (found == kClientAuthTypes.end()) {
      fail(node["client_auth_type"], key + ".client_auth_type",
           "must be one of NoClientCert, RequestClientCert, RequireAnyClientCert, "
           "VerifyClientCertIfGiven, RequireAndVerifyClientCert");
    } else {
      tls.client_auth = found->second;
    }
  }
  const bool verifies = tls.client_auth == ClientAuth::VerifyIfGiven ||
                        tls.client_auth == ClientAuth::RequireAndVerify;
  if (node["client_ca_file"]) {
    tls.client_ca_file = filePath(node["client_ca_file"], key + ".client_ca_file");
  } else if (verifies) {
    fail(node, key + ".client_ca_file",
         "required when client_auth_type verifies client certificates");
  }
  auto version = [&](const char* name) -> std::optional<TlsVersion> {
    if (!node[name]) {
      return std::nullopt;
    }
    const std::string value = text(node[name], key + "." + name);
    auto found = kTlsVersions.find(value);
    if (found == kTlsVersions.end()) {
      fail(node[name], key + "." + name, "must be one of TLS10, TLS11, TLS12, TLS13");
      return std::nullopt;
    }
    return found->second;
  };
  tls.min_version = version("min_version").value_or(TlsVersion::Tls12);
  tls.max_version = version("max_version");
  if (tls.max_version && *tls.max_version < tls.min_version) {
    fail(node["max_version"], key + ".max_version", "is below min_version");
  }
  settings.tls = std::move(tls);
}

void WebConfigParser::loadUsers(const YAML::Node& node, WebSettings& settings) {
  const std::string key = "basic_auth_users";
  if (!node.IsMap()) {
    fail(node, key, "expected a mapping of user names to bcrypt hashes");
    return;
  }
  for (const auto& item : node) {
    const std::string user = item.first.Scalar();
    const std::string hash = text(item.second, key + "." + user);
    if (user.empty() || user.find(':') != std::string::npos) {
      fail(item.first, key + "." + user, "a user name is not empty and has no ':'");
      continue;
    }
    // Checked by shape: hashing here would cost a bcrypt run per user on every reload.
    if (!std::regex_match(hash, kBcryptHash)) {
      fail(item.second, key + "." + user,
           "expected a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters), e.g. from "
           "htpasswd -nBC 10 USER");
      continue;
    }
    settings.basic_auth_users[user] = hash;
  }
}

void WebConfigParser::loadRoles(const YAML::Node& node, WebSettings& settings) {
  const std::string key = "user_roles";
  if (!node.IsMap()) {
    fail(node, key, "expected a mapping of user names to roles (operator or viewer)");
    return;
  }
  for (const auto& item : node) {
    const std::string user = item.first.Scalar();
    const std::string role = text(item.second, key + "." + user);
    if (settings.basic_auth_users.count(user) == 0) {
      fail(item.first, key + "." + user, "is not a user of basic_auth_users");
    } else if (role == "operator") {
      settings.operators.insert(user);
    } else if (role != "viewer") {
      fail(item.second, key + "." + user,
           "unknown role '" + role + "'; expected operator or viewer");
    }
  }
}

WebSettings WebConfigParser::parse() {
  WebSettings settings;
  settings.source_file = path_;
  YAML::Node root;
  std::string error;
  const auto text = readRegularFile(path_, kMaxConfigFileBytes, error);
  if (!text) {
    fail({}, "", "cannot read the web configuration file: " + error);
    throw ConfigError(issues_);
  }
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    ConfigIssue issue;
    issue.where = {path_, e.mark.line + 1, e.mark.column + 1};
    issue.message = e.msg;
    issues_.push_back(std::move(issue));
    throw ConfigError(issues_);
  }
  for (const DuplicateKey& duplicate : findDuplicateKeys(root)) {
    ConfigIssue issue;
    issue.where = {path_, duplicate.second.line + 1, duplicate.second.column + 1};
    issue.key_path = duplicate.key;
    issue.message =
        "duplicate key (first written at line " + std::to_string(duplicate.first.line + 1) + ")";
    issues_.push_back(std::move(issue));
  }
  if (root.IsNull()) {
    return settings;  // An empty file: plain HTTP, no authentication, as in exporter-toolkit.
  }
  if (checkKeys(root, "", {"tls_server_config", "basic_auth_users", "user_roles"})) {
    if (root["tls_server_config"]) {
      loadTls(root["tls_server_config"], settings);
    }
    if (root["basic_auth_users"]) {
      loadUsers(root["basic_auth_users"], settings);
    }
    if (root["user_roles"]) {
      loadRoles(root["user_roles"], settings);
    }
  }
  return settings;
}

}  // namespace

WebSettings parseWebConfig(const std::string& path, std::vector<ConfigIssue>& issues) {
  return WebConfigParser(path, issues).parse();
}

std::shared_ptr<const WebConfig> loadWebConfig(const std::string& path) {
  std::vector<ConfigIssue> issues;
  WebConfigParser parser(path, issues);
  const WebSettings settings = parser.parse();
  if (parser.namesSpecialFile()) {
    throw ConfigError(issues);
  }
  auto web = buildWebConfig(settings, issues);
  if (!issues.empty()) {
    throw ConfigError(issues);
  }
  return web;
}

}  // namespace vigie
