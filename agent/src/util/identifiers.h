// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string_view>

namespace vigie {

/// The longest probe name, label name, metric name or reason word accepted
/// (docs/CONFIGURATION.md, "Limits").
inline constexpr std::size_t kMaxIdentifierBytes = 200;

// Plain loops, not std::regex: libstdc++ matches recursively and a 30,000-character name
// overflowed the stack. Each is also false past kMaxIdentifierBytes.

/// [a-z0-9_.-]+: probe names.
bool isProbeName(std::string_view name);
/// [a-zA-Z_][a-zA-Z0-9_]*: Prometheus label names.
bool isLabelName(std::string_view name);
/// [a-zA-Z_:][a-zA-Z0-9_:]*: Prometheus metric names.
bool isMetricName(std::string_view name);
/// [a-z0-9_]+: probe type names, schema keys and reason words.
bool isWord(std::string_view name);

}  // namespace vigie
