// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>

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
