// SPDX-License-Identifier: Apache-2.0
#include "http/web_config.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <cstring>

namespace vigie {
namespace {

int protocolVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::Tls10:
      return TLS1_VERSION;
    case TlsVersion::Tls11:
      return TLS1_1_VERSION;
    case TlsVersion::Tls12:
      return TLS1_2_VERSION;
    case TlsVersion::Tls13:
      break;
  }
  return TLS1_3_VERSION;
}

void fail(std::vector<ConfigIssue>& issues, const WebFile& file, const std::string& key,
          const std::string& message) {
  ConfigIssue issue;
  issue.where = file.where;
  issue.key_path = key;
  issue.message = message;
  issues.push_back(std::move(issue));
}

std::shared_ptr<asio::ssl::context> buildTls(const WebTlsSettings& settings,
                                             std::vector<ConfigIssue>& issues) {
  const std::string key = "tls_server_config";
  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* ctx = tls->native_handle();
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                   asio::ssl::context::single_dh_use);
  asio::error_code ec;
  const std::string& cert = settings.cert_file.path;
  tls->use_certificate_chain_file(cert, ec);
  if (ec) {
    fail(issues, settings.cert_file, key + ".cert_file",
         "cannot load " + cert + ": " + ec.message());
  }
  const std::string& private_key = settings.key_file.path;
  tls->use_private_key_file(private_key, asio::ssl::context::pem, ec);
  if (ec) {
    fail(issues, settings.key_file, key + ".key_file",
         "cannot load " + private_key + ": " + ec.message());
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    fail(issues, settings.key_file, key + ".key_file", "the key does not match cert_file");
  }
  if (settings.client_ca_file) {
    const std::string& ca = settings.client_ca_file->path;
    tls->load_verify_file(ca, ec);
    if (ec) {
      fail(issues, *settings.client_ca_file, key + ".client_ca_file",
           "cannot load " + ca + ": " + ec.message());
    }
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    }
  }
  switch (settings.client_auth) {
    case ClientAuth::None:
      tls->set_verify_mode(asio::ssl::verify_none);
      break;
    case ClientAuth::Request:
    case ClientAuth::RequireAny:
      // A certificate is asked for (or required) but not checked, as in Go.
      tls->set_verify_mode(asio::ssl::verify_peer | (settings.client_auth == ClientAuth::RequireAny
                                                         ? asio::ssl::verify_fail_if_no_peer_cert
                                                         : 0));
      tls->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
      break;
    case ClientAuth::VerifyIfGiven:
      tls->set_verify_mode(asio::ssl::verify_peer);
      break;
    case ClientAuth::RequireAndVerify:
      tls->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      break;
  }
  SSL_CTX_set_min_proto_version(ctx, protocolVersion(settings.min_version));
  SSL_CTX_set_max_proto_version(ctx,
                                settings.max_version ? protocolVersion(*settings.max_version) : 0);
  return tls;
}

}  // namespace

std::shared_ptr<const WebConfig> buildWebConfig(const WebSettings& settings,
                                                std::vector<ConfigIssue>& issues) {
  auto config = std::make_shared<WebConfig>();
  config->source_file = settings.source_file;
  if (settings.tls) {
    config->tls = buildTls(*settings.tls, issues);
  }
  config->basic_auth_users = settings.basic_auth_users;
  config->operators = settings.operators;
  return config;
}

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

}  // namespace vigie
