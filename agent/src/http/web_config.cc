// SPDX-License-Identifier: Apache-2.0
#include "http/web_config.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <filesystem>
#include <regex>
#include <set>
#include <vector>

#include "vigie/config_schema.h"

namespace vigie {
namespace {

namespace fs = std::filesystem;

// exporter-toolkit's client_auth_type values, after Go's tls.ClientAuthType.
enum class ClientAuth { None, Request, RequireAny, VerifyIfGiven, RequireAndVerify };

const std::map<std::string, ClientAuth> kClientAuthTypes{
    {"NoClientCert", ClientAuth::None},
    {"RequestClientCert", ClientAuth::Request},
    {"RequireAnyClientCert", ClientAuth::RequireAny},
    {"VerifyClientCertIfGiven", ClientAuth::VerifyIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::RequireAndVerify},
};

const std::regex kBcryptHash(R"(\$2[aby]\$[0-3][0-9]\$[./A-Za-z0-9]{53})");

const std::map<std::string, int> kTlsVersions{{"TLS10", TLS1_VERSION},
                                              {"TLS11", TLS1_1_VERSION},
                                              {"TLS12", TLS1_2_VERSION},
                                              {"TLS13", TLS1_3_VERSION}};

class WebConfigParser {
 public:
  explicit WebConfigParser(std::string path) : path_(std::move(path)) {}

  std::shared_ptr<const WebConfig> parse();

 private:
  void fail(const YAML::Node& node, const std::string& key, const std::string& message) {
    ConfigIssue issue;
    issue.where.file = path_;
    if (node && !node.Mark().is_null()) {
      issue.where.line = node.Mark().line + 1;
      issue.where.column = node.Mark().column + 1;
    }
    issue.key_path = key;
    issue.message = message;
    issues_.push_back(std::move(issue));
  }

  bool checkKeys(const YAML::Node& node, const std::string& key,
                 const std::set<std::string>& known);
  std::string text(const YAML::Node& node, const std::string& key);
  std::string filePath(const YAML::Node& node, const std::string& key);
  void loadTls(const YAML::Node& node, WebConfig& config);
  void loadUsers(const YAML::Node& node, WebConfig& config);

  std::string path_;
  std::vector<ConfigIssue> issues_;
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

std::string WebConfigParser::filePath(const YAML::Node& node, const std::string& key) {
  std::string value = text(node, key);
  if (value.empty()) {
    return value;
  }
  fs::path file(value);
  if (file.is_relative()) {
    file = fs::path(path_).parent_path() / file;
  }
  return file.string();
}

void WebConfigParser::loadTls(const YAML::Node& node, WebConfig& config) {
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
  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* ctx = tls->native_handle();
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                   asio::ssl::context::single_dh_use);
  asio::error_code ec;
  const std::string cert = filePath(node["cert_file"], key + ".cert_file");
  tls->use_certificate_chain_file(cert, ec);
  if (ec) {
    fail(node["cert_file"], key + ".cert_file", "cannot load " + cert + ": " + ec.message());
  }
  const std::string private_key = filePath(node["key_file"], key + ".key_file");
  tls->use_private_key_file(private_key, asio::ssl::context::pem, ec);
  if (ec) {
    fail(node["key_file"], key + ".key_file", "cannot load " + private_key + ": " + ec.message());
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    fail(node["key_file"], key + ".key_file", "the key does not match cert_file");
  }

  ClientAuth client_auth = ClientAuth::None;
  if (node["client_auth_type"]) {
    const std::string name = text(node["client_auth_type"], key + ".client_auth_type");
    auto found = kClientAuthTypes.find(name);
    if (found == kClientAuthTypes.end()) {
      fail(node["client_auth_type"], key + ".client_auth_type",
           "must be one of NoClientCert, RequestClientCert, RequireAnyClientCert, "
           "VerifyClientCertIfGiven, RequireAndVerifyClientCert");
    } else {
      client_auth = found->second;
    }
  }
  const bool verifies =
      client_auth == ClientAuth::VerifyIfGiven || client_auth == ClientAuth::RequireAndVerify;
  if (node["client_ca_file"]) {
    const std::string ca = filePath(node["client_ca_file"], key + ".client_ca_file");
    tls->load_verify_file(ca, ec);
    if (ec) {
      fail(node["client_ca_file"], key + ".client_ca_file",
           "cannot load " + ca + ": " + ec.message());
    }
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    }
  } else if (verifies) {
    fail(node, key + ".client_ca_file",
         "required when client_auth_type verifies client certificates");
  }
  switch (client_auth) {
    case ClientAuth::None:
      tls->set_verify_mode(asio::ssl::verify_none);
      break;
    case ClientAuth::Request:
    case ClientAuth::RequireAny:
      // A certificate is asked for (or required) but not checked, as in Go.
      tls->set_verify_mode(
          asio::ssl::verify_peer |
          (client_auth == ClientAuth::RequireAny ? asio::ssl::verify_fail_if_no_peer_cert : 0));
      tls->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
      break;
    case ClientAuth::VerifyIfGiven:
      tls->set_verify_mode(asio::ssl::verify_peer);
      break;
    case ClientAuth::RequireAndVerify:
      tls->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      break;
  }

  auto version = [&](const char* name, int fallback) {
    if (!node[name]) {
      return fallback;
    }
    const std::string value = text(node[name], key + "." + name);
    auto found = kTlsVersions.find(value);
    if (found == kTlsVersions.end()) {
      fail(node[name], key + "." + name, "must be one of TLS10, TLS11, TLS12, TLS13");
      return fallback;
    }
    return found->second;
  };
  const int min_version = version("min_version", TLS1_2_VERSION);
  const int max_version = version("max_version", 0);
  if (max_version != 0 && max_version < min_version) {
    fail(node["max_version"], key + ".max_version", "is below min_version");
  }
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  config.tls = std::move(tls);
}

void WebConfigParser::loadUsers(const YAML::Node& node, WebConfig& config) {
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
    config.basic_auth_users[user] = hash;
  }
}

std::shared_ptr<const WebConfig> WebConfigParser::parse() {
  auto config = std::make_shared<WebConfig>();
  config->source_file = path_;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path_);
  } catch (const YAML::BadFile&) {
    fail({}, "", "cannot read the web configuration file: " + std::string(std::strerror(errno)));
    throw ConfigError(issues_);
  } catch (const YAML::Exception& e) {
    ConfigIssue issue;
    issue.where = {path_, e.mark.line + 1, e.mark.column + 1};
    issue.message = e.msg;
    issues_.push_back(std::move(issue));
    throw ConfigError(issues_);
  }
  if (root.IsNull()) {
    return config;  // An empty file: plain HTTP, no authentication, as in exporter-toolkit.
  }
  if (checkKeys(root, "", {"tls_server_config", "basic_auth_users"})) {
    if (root["tls_server_config"]) {
      loadTls(root["tls_server_config"], *config);
    }
    if (root["basic_auth_users"]) {
      loadUsers(root["basic_auth_users"], *config);
    }
  }
  if (!issues_.empty()) {
    throw ConfigError(issues_);
  }
  return config;
}

}  // namespace

bool WebConfig::checkPassword(const std::string& user, const std::string& password) const {
  if (basic_auth_users.empty()) {
    return false;
  }
  auto found = basic_auth_users.find(user);
  // An unknown user is checked against another user's hash so the answer takes as long.
  const std::string& hash =
      found != basic_auth_users.end() ? found->second : basic_auth_users.begin()->second;
  auto data = std::make_unique<crypt_data>();  // about 32 KiB: not on the stack
  const char* computed = crypt_r(password.c_str(), hash.c_str(), data.get());
  const bool same = computed != nullptr && std::strlen(computed) == hash.size() &&
                    CRYPTO_memcmp(computed, hash.data(), hash.size()) == 0;
  return same && found != basic_auth_users.end();
}

std::shared_ptr<const WebConfig> loadWebConfig(const std::string& path) {
  return WebConfigParser(path).parse();
}

}  // namespace vigie
