// SPDX-License-Identifier: Apache-2.0
#include "util/identifiers.h"

#include <algorithm>

namespace vigie {
namespace {

bool lower(char c) { return c >= 'a' && c <= 'z'; }
bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

template <typename First, typename Rest>
bool identifier(std::string_view name, First first, Rest rest) {
  return !name.empty() && name.size() <= kMaxIdentifierBytes && first(name.front()) &&
         std::all_of(name.begin() + 1, name.end(), rest);
}

}  // namespace

bool isProbeName(std::string_view name) {
  const auto allowed = [](char c) {
    return lower(c) || digit(c) || c == '_' || c == '.' || c == '-';
  };
  return identifier(name, allowed, allowed);
}

bool isLabelName(std::string_view name) {
  return identifier(
      name, [](char c) { return lower(c) || upper(c) || c == '_'; },
      [](char c) { return lower(c) || upper(c) || digit(c) || c == '_'; });
}

bool isMetricName(std::string_view name) {
  return identifier(
      name, [](char c) { return lower(c) || upper(c) || c == '_' || c == ':'; },
      [](char c) { return lower(c) || upper(c) || digit(c) || c == '_' || c == ':'; });
}

bool isWord(std::string_view name) {
  const auto allowed = [](char c) { return lower(c) || digit(c) || c == '_'; };
  return identifier(name, allowed, allowed);
}

}  // namespace vigie
