// SPDX-License-Identifier: Apache-2.0
#include "util/timing.h"

#include <charconv>

namespace vigie {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string milliseconds(double seconds) {
  // to_chars, not snprintf: formatted several times per probe run, where printf's generic
  // float path was a visible share of the agent's CPU.
  char text[64];
  auto [end, ec] =
      std::to_chars(text, text + sizeof text - 2, seconds * 1000, std::chars_format::fixed, 1);
  if (ec != std::errc{}) {
    return "?ms";
  }
  *end++ = 'm';
  *end++ = 's';
  return std::string(text, end);
}

}  // namespace vigie
