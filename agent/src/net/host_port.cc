// SPDX-License-Identifier: Apache-2.0
#include "net/host_port.h"

#include <charconv>

namespace vigie {

std::optional<HostPort> parseHostPort(const std::string& text, bool allow_port_zero) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return std::nullopt;
  }
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) {
      return std::nullopt;
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // an IPv6 literal needs brackets
  }
  unsigned port = 0;
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || ptr != end || begin == end || (port == 0 && !allow_port_zero) ||
      port > 65535) {
    return std::nullopt;
  }
  return HostPort{std::move(host), static_cast<std::uint16_t>(port)};
}

}  // namespace vigie
