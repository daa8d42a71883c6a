// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <openssl/x509_vfy.h>

#include <asio/ip/address.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/tls_inspect.h"
#include "vigie/config_schema.h"
#include "vigie/probe.h"

/// The TLS keys the probe types share (tcp, http, mysql, postgres): declared and read in one
/// place, so their names, docs and checks cannot drift apart.
namespace vigie::probes::tls {

/// How a type documents its TLS keys.
struct KeySpec {
  std::string ca_doc;
  /// The key that turns verification off; empty when the type has none (postgres: sslmode).
  std::string insecure_key = "tls_insecure_skip_verify";
  std::string insecure_doc = "Accept any server certificate. Logged loudly; never for production";
  std::string cert_doc = "Client certificate (PEM)";
  std::string key_doc = "Client key (PEM)";
};

/// Appends tls_ca_file, tls_cert_file, tls_key_file and the insecure key to `schema`.
void appendSchema(ConfigSchema& schema, const KeySpec& spec);
/// The same keys, in two parts for a type that has its own keys between them (the schema's
/// order is the order of "allowed:" lists in config errors).
void appendFileKeys(ConfigSchema& schema, const KeySpec& spec);
FieldSpec insecureKey(const KeySpec& spec);

struct Files {
  std::string ca_file;  ///< empty: the system's bundle (or the library's default)
  std::string cert_file;
  std::string key_file;
};

/// Reads the three file keys; tls_cert_file and tls_key_file go together.
Files parseFiles(const ProbeConfig& config);

/// Prepares a client handshake on `stream`: the name to verify (an IP address is checked against
/// the certificate's IP SANs, without SNI) and, unless `insecure`, peer verification that records
/// the first error in `verify_error` but lets the handshake finish, so the certificate dates are
/// reported even for a certificate that does not verify. `verify_error` must outlive the
/// handshake.
template <typename Socket>
void prepareVerification(asio::ssl::stream<Socket>& stream, const std::string& name, bool insecure,
                         std::string& verify_error) {
  SSL* ssl = stream.native_handle();
  asio::error_code name_ec;
  asio::ip::make_address(name, name_ec);
  if (!name_ec) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    SSL_set1_host(ssl, name.c_str());
  }
  if (insecure) {
    stream.set_verify_mode(asio::ssl::verify_none);
    return;
  }
  stream.set_verify_mode(asio::ssl::verify_peer);
  stream.set_verify_callback([&verify_error](bool preverified, asio::ssl::verify_context& vc) {
    if (!preverified && verify_error.empty()) {
      verify_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc.native_handle()));
    }
    return true;
  });
}

/// After a handshake: the peer's certificates, with probe_tls_version_info and
/// probe_ssl_earliest_cert_expiry added to `samples`, and "<prefix><version> handshake done" and
/// the certificates to `details`.
PeerCertificates recordHandshake(SSL* ssl, const std::string& prefix, std::vector<Sample>& samples,
                                 std::vector<std::string>& details);

/// A TLS client context with `files` loaded (the system's CA store when no CA file is given),
/// built once per probe creation; a file that cannot be loaded fails the configuration.
std::shared_ptr<asio::ssl::context> makeClientContext(const ProbeConfig& config,
                                                      const Files& files);

/// Fails on the first of `keys` that is set, with `message` (e.g. "only meaningful with tls:
/// true"): for keys that mean nothing in the probe's configuration.
void refuseKeys(const ProbeConfig& config, std::initializer_list<const char*> keys,
                const std::string& message);

/// Logs, once per probe creation, that `key` leaves the server unauthenticated; `accepted` says
/// what is then accepted ("any certificate is accepted").
void warnInsecure(const ProbeConfig& config, const std::string& key, const std::string& accepted);

/// Certificate-expiry thresholds (tls_expiry_warning, tls_expiry_critical), as check_http -C
/// 21,7: the probe is WARNING or CRITICAL when the first certificate of the chain to expire
/// does so within the threshold.
struct ExpiryThresholds {
  std::optional<std::chrono::milliseconds> warning;
  std::optional<std::chrono::milliseconds> critical;

  bool any() const { return warning || critical; }
};

/// Appends tls_expiry_warning and tls_expiry_critical to `schema`.
void appendExpirySchema(ConfigSchema& schema);
/// Reads them; the warning threshold must be longer than the critical one.
ExpiryThresholds parseExpiry(const ProbeConfig& config);

/// WARNING or CRITICAL with reason tls_expiry when `certificates` expire within a threshold
/// (CRITICAL once expired), nothing otherwise. `now` is Unix time.
std::optional<ProbeResult> checkExpiry(const ExpiryThresholds& thresholds,
                                       const PeerCertificates& certificates, double now);
/// The same against the system clock.
std::optional<ProbeResult> checkExpiry(const ExpiryThresholds& thresholds,
                                       const PeerCertificates& certificates);

}  // namespace vigie::probes::tls
