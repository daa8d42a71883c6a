// SPDX-License-Identifier: Apache-2.0
#include "console/html_csrf.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace vigie {

CsrfTokens::CsrfTokens() {
  if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1) {
    throw std::runtime_error("cannot draw the console's CSRF secret from OpenSSL");
  }
}

std::string CsrfTokens::tokenFor(std::string_view user) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(user.data()), user.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    token.push_back(kHex[digest[i] >> 4]);
    token.push_back(kHex[digest[i] & 0xf]);
  }
  return token;
}

bool CsrfTokens::verify(std::string_view user, std::string_view token) const {
  const std::string expected = tokenFor(user);
  return token.size() == expected.size() &&
         CRYPTO_memcmp(token.data(), expected.data(), expected.size()) == 0;
}

std::string crossSiteRefusal(std::string_view sec_fetch_site, std::string_view origin,
                             std::string_view expected_origin) {
  // same-site is refused too: a sibling host under the same domain is another application.
  if (sec_fetch_site == "cross-site" || sec_fetch_site == "same-site") {
    return "the request comes from another site (Sec-Fetch-Site: " + std::string(sec_fetch_site) +
           ")";
  }
  if (origin == "null") {
    return "the request comes from an opaque origin (Origin: null)";
  }
  if (!origin.empty() && !expected_origin.empty() && origin != expected_origin) {
    return "the request comes from another origin (Origin: " + std::string(origin) + ")";
  }
  return {};
}

}  // namespace vigie
