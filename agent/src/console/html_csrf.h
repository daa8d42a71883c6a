// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace vigie {

/// CSRF tokens for the console's forms: HMAC-SHA256 of the user name under a secret drawn at
/// start. A page on another site cannot read the token, so it cannot forge a post; a restart
/// invalidates the tokens of pages still open (the operator reloads the page).
class CsrfTokens {
 public:
  /// Draws the secret from OpenSSL's generator; throws std::runtime_error when it cannot.
  CsrfTokens();

  std::string tokenFor(std::string_view user) const;
  /// Constant-time comparison with the token of `user`.
  bool verify(std::string_view user, std::string_view token) const;

 private:
  std::array<unsigned char, 32> secret_{};
};

/// Why a form post is refused before its token is even looked at; empty when it may go on.
/// A browser says where a request comes from (Sec-Fetch-Site, Origin): a post from another
/// site, or from a sandboxed document (`Origin: null`), is refused. `expected_origin`, when
/// known (scheme://host[:port]), must equal Origin.
std::string crossSiteRefusal(std::string_view sec_fetch_site, std::string_view origin,
                             std::string_view expected_origin);

}  // namespace vigie
