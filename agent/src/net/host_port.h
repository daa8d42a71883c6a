// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace vigie {

struct HostPort {
  std::string host;  ///< without the brackets of an IPv6 literal
  std::uint16_t port = 0;
};

/// "host:443", "192.0.2.1:443" or "[2001:db8::1]:443"; nothing when malformed or when the port
/// is 0, unless `allow_port_zero` (a listener's "any free port").
std::optional<HostPort> parseHostPort(const std::string& text, bool allow_port_zero = false);

}  // namespace vigie
