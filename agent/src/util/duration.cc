// SPDX-License-Identifier: Apache-2.0
#include "util/duration.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <limits>

namespace vigie {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t millis;
};
// Longest suffix first so "ms" is not read as "m".
constexpr std::array<Unit, 7> kUnits{{{"ms", 1},
                                      {"w", 7 * 86'400'000LL},
                                      {"d", 86'400'000LL},
                                      {"h", 3'600'000LL},
                                      {"m", 60'000LL},
                                      {"s", 1'000LL},
                                      {"y", 365 * 86'400'000LL}}};

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::int64_t number = 0;
    const std::size_t digits_start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
      if (number > std::numeric_limits<std::int64_t>::max() / 10 - 10) {
        return std::nullopt;
      }
      number = number * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == digits_start) {
      return std::nullopt;
    }
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (text.substr(pos, candidate.suffix.size()) == candidate.suffix) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr) {
      return std::nullopt;
    }
    pos += unit->suffix.size();
    if (number > (std::numeric_limits<std::int64_t>::max() - total) / unit->millis) {
      return std::nullopt;
    }
    total += number * unit->millis;
  }
  return std::chrono::milliseconds(total);
}

std::string formatDuration(std::chrono::milliseconds duration) {
  std::int64_t left = duration.count();
  if (left == 0) {
    return "0s";
  }
  std::string out;
  for (const Unit& unit : {kUnits[3], kUnits[4], kUnits[5], kUnits[0]}) {
    if (left >= unit.millis) {
      out += std::to_string(left / unit.millis) + std::string(unit.suffix);
      left %= unit.millis;
    }
  }
  return out;
}

}  // namespace vigie
