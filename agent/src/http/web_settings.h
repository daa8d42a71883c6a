// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "vigie/config_schema.h"

namespace vigie {

/// exporter-toolkit's client_auth_type values, after Go's tls.ClientAuthType.
enum class ClientAuth { None, Request, RequireAny, VerifyIfGiven, RequireAndVerify };

enum class TlsVersion { Tls10, Tls11, Tls12, Tls13 };

/// A file named in the web configuration, and where, for the errors of loading it.
struct WebFile {
  std::string path;  ///< resolved against the web configuration's folder
  ConfigLocation where;
};

/// `tls_server_config`, checked (config/web_config_file) but not loaded yet.
struct WebTlsSettings {
  WebFile cert_file;
  WebFile key_file;
  std::optional<WebFile> client_ca_file;
  ClientAuth client_auth = ClientAuth::None;
  TlsVersion min_version = TlsVersion::Tls12;
  std::optional<TlsVersion> max_version;
};

/// The web configuration file as plain data: what http/web_config builds the endpoint's TLS
/// context and authentication from.
struct WebSettings {
  std::string source_file;
  /// Nothing when the file has no tls_server_config: plain HTTP.
  std::optional<WebTlsSettings> tls;
  /// User name to bcrypt hash; empty when authentication is off.
  std::map<std::string, std::string> basic_auth_users;
  /// Users given the operator role by `user_roles` (the others only read).
  std::set<std::string> operators;
};

}  // namespace vigie
