// SPDX-License-Identifier: Apache-2.0
#include "net/tls_inspect.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <ctime>

namespace vigie {
namespace {

std::optional<double> notAfter(X509* certificate) {
  const ASN1_TIME* time = X509_get0_notAfter(certificate);
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return std::nullopt;
  }
  return static_cast<double>(timegm(&tm));
}

std::string subjectOf(X509* certificate) {
  char* text = X509_NAME_oneline(X509_get_subject_name(certificate), nullptr, 0);
  if (text == nullptr) {
    return "?";
  }
  std::string subject(text);
  OPENSSL_free(text);
  return subject;
}

}  // namespace

PeerCertificates inspectPeerCertificates(SSL* ssl) {
  return inspectCertificates(SSL_get_peer_cert_chain(ssl));
}

PeerCertificates inspectCertificates(STACK_OF(X509) * chain) {
  PeerCertificates out;
  if (chain == nullptr) {
    return out;
  }
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* certificate = sk_X509_value(chain, i);
    const auto expiry = notAfter(certificate);
    std::string description = subjectOf(certificate);
    if (expiry) {
      if (!out.earliest_expiry || *expiry < *out.earliest_expiry) {
        out.earliest_expiry = expiry;
        out.earliest_subject = description;
      }
      const std::time_t seconds = static_cast<std::time_t>(*expiry);
      std::tm tm{};
      gmtime_r(&seconds, &tm);
      char date[32];
      std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
      description += ", expires " + std::string(date);
    }
    out.descriptions.push_back(std::move(description));
  }
  return out;
}

std::string tlsVersionName(SSL* ssl) {
  switch (SSL_version(ssl)) {
    case TLS1_VERSION:
      return "TLS 1.0";
    case TLS1_1_VERSION:
      return "TLS 1.1";
    case TLS1_2_VERSION:
      return "TLS 1.2";
    case TLS1_3_VERSION:
      return "TLS 1.3";
    default:
      return SSL_get_version(ssl);
  }
}

}  // namespace vigie
