// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace vigie::test {

/// PEM files of a test PKI generated at test time with OpenSSL, in a fresh temporary folder.
struct CertificateFiles {
  std::string cert;
  std::string key;
  double not_after_unix = 0;
};

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> dns_names{};
  std::vector<std::string> ip_addresses{};
  std::chrono::seconds valid_from{-3600};  ///< relative to now
  std::chrono::seconds valid_until{30 * 86400};
  bool is_ca = false;
};

/// Self-signed when `issuer` is null, otherwise signed by it.
CertificateFiles makeCertificate(const std::string& directory, const std::string& base_name,
                                 const CertificateRequest& request,
                                 const CertificateFiles* issuer = nullptr);

/// A new empty folder under the system's temporary directory.
std::string makeTempDir();

}  // namespace vigie::test
