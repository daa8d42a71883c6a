// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string_view>

namespace vigie {

/// Arrays and objects nested deeper than this in a body from the network are refused before
/// parsing (docs/CONFIGURATION.md, "Limits"): nlohmann's dump and comparisons recurse per level,
/// and 100,000 levels overflowed the stack.
inline constexpr std::size_t kMaxJsonDepth = 128;

/// Whether `text` nests arrays and objects deeper than `max_depth`: one linear scan that skips
/// strings, so invalid JSON is left for the parser to report.
bool jsonNestedDeeperThan(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

}  // namespace vigie
