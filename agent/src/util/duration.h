// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace vigie {

/// Parses Prometheus-style durations: "500ms", "30s", "1m30s", "2h", "1d". A unit is required.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

/// The shortest Prometheus-style spelling: 90000ms -> "1m30s".
std::string formatDuration(std::chrono::milliseconds duration);

}  // namespace vigie
