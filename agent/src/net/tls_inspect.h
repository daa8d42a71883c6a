// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <vector>

namespace vigie {

/// What a probe reports about the certificates a server presented.
struct PeerCertificates {
  /// Earliest notAfter of the chain as Unix time (probe_ssl_earliest_cert_expiry).
  std::optional<double> earliest_expiry;
  /// Subject of the certificate that expires first ("/CN=www.example"), for messages.
  std::string earliest_subject;
  /// "subject, expires YYYY-MM-DD" per certificate, leaf first, for humans.
  std::vector<std::string> descriptions;
};

/// Reads the chain the peer sent on an established (or verify-failed) connection.
PeerCertificates inspectPeerCertificates(SSL* ssl);
/// The same for a chain in hand, e.g. inside a verify callback, before the handshake ends.
PeerCertificates inspectCertificates(STACK_OF(X509) * chain);

/// "TLS 1.3" and the like, as blackbox_exporter's probe_tls_version_info labels it.
std::string tlsVersionName(SSL* ssl);

}  // namespace vigie
