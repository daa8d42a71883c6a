// SPDX-License-Identifier: Apache-2.0
#include "alert/maintenance.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <sstream>

namespace vigie {

bool MaintenanceWindow::activeAt(WallTime now) const {
  if (!recurring()) {
    return start && end && *start <= now && now < *end;
  }
  const auto local = zone->to_local(std::chrono::floor<std::chrono::seconds>(now));
  const auto day = date::floor<date::days>(local);
  const auto time_of_day = std::chrono::duration_cast<std::chrono::minutes>(local - day);
  auto scheduledOn = [this](date::local_days d) {
    const unsigned weekday = date::weekday(d).c_encoding();
    return weekdays.empty() ||
           std::find(weekdays.begin(), weekdays.end(), weekday) != weekdays.end();
  };
  if (from < to) {
    return scheduledOn(day) && time_of_day >= from && time_of_day < to;
  }
  // Past midnight: the evening part belongs to this day, the morning part to the day before.
  return (scheduledOn(day) && time_of_day >= from) ||
         (scheduledOn(day - date::days(1)) && time_of_day < to);
}

bool MaintenanceWindow::appliesTo(const std::string& probe, const Labels& labels) const {
  if (probes.empty() && match_labels.empty()) {
    return true;
  }
  if (std::find(probes.begin(), probes.end(), probe) != probes.end()) {
    return true;
  }
  if (match_labels.empty()) {
    return false;
  }
  return std::all_of(match_labels.begin(), match_labels.end(), [&labels](const auto& wanted) {
    return std::find(labels.begin(), labels.end(), wanted) != labels.end();
  });
}

const date::time_zone* findZone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::optional<std::chrono::minutes> parseTimeOfDay(const std::string& text) {
  unsigned hours = 0;
  unsigned minutes = 0;
  char colon = 0;
  std::istringstream in(text);
  if (!(in >> hours >> colon >> minutes) || colon != ':' || !in.eof() || hours > 24 ||
      minutes > 59 || (hours == 24 && minutes != 0) || text.size() != 5) {
    return std::nullopt;
  }
  return std::chrono::minutes(hours * 60 + minutes);
}

std::optional<WallTime> parseTimestamp(const std::string& text) {
  for (const char* format : {"%FT%T%Ez", "%FT%TZ"}) {
    std::istringstream in(text);
    date::sys_seconds when;
    in >> date::parse(format, when);
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) {
      return WallTime(when);
    }
  }
  return std::nullopt;
}

}  // namespace vigie
