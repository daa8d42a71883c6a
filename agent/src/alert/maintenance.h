// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "alert/alert_state.h"
#include "vigie/probe.h"

namespace date {
class time_zone;
}

namespace vigie {

/// A period during which probes still run and their state is shown, but no alert is sent.
struct MaintenanceWindow {
  std::string name;
  /// One-off window: [start, end).
  std::optional<WallTime> start;
  std::optional<WallTime> end;
  /// Recurring window: on `weekdays` (0 = Sunday; empty = every day), from `from` to `to` local
  /// time in `zone` (a window whose end is before its start runs past midnight).
  std::vector<unsigned> weekdays;
  std::chrono::minutes from{0};
  std::chrono::minutes to{0};
  const date::time_zone* zone = nullptr;
  /// Which probes: named ones, and those whose labels include every `match_labels` pair. A window
  /// with neither applies to every probe.
  std::vector<std::string> probes;
  Labels match_labels;

  bool recurring() const { return zone != nullptr; }
  bool activeAt(WallTime now) const;
  bool appliesTo(const std::string& probe, const Labels& labels) const;
};

/// Finds a zone of the system tz database (/usr/share/zoneinfo); null when unknown.
const date::time_zone* findZone(const std::string& name);

/// "06:00" → minutes since midnight.
std::optional<std::chrono::minutes> parseTimeOfDay(const std::string& text);

/// RFC 3339 ("2026-12-01T06:00:00+01:00" or "...Z").
std::optional<WallTime> parseTimestamp(const std::string& text);

}  // namespace vigie
