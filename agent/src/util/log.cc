// SPDX-License-Identifier: Apache-2.0
#include "util/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "util/utf8.h"

namespace vigie {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::Info};
const bool g_journal = std::getenv("JOURNAL_STREAM") != nullptr;

// Local time with milliseconds and its UTC offset, e.g. 2026-11-30T01:35:10.123+01:00: what an
// operator compares with the clock on the wall, without guessing the zone.
std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &local);
  char offset[8];
  std::strftime(offset, sizeof offset, "%z", &local);  // +0100
  char text[64];
  std::snprintf(text, sizeof text, "%s.%03d%.3s:%.2s ", date, static_cast<int>(millis % 1000),
                offset, offset + 3);
  return text;
}

}  // namespace

void setLogLevel(std::string_view level) {
  if (level == "debug") {
    g_min_level = LogLevel::Debug;
  } else if (level == "warning") {
    g_min_level = LogLevel::Warning;
  } else if (level == "error") {
    g_min_level = LogLevel::Error;
  } else {
    g_min_level = LogLevel::Info;
  }
}

void logLine(LogLevel level, std::string_view probe, std::string_view message) {
  if (level < g_min_level.load(std::memory_order_relaxed)) {
    return;
  }
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  static constexpr const char* kSyslog[] = {"<7>", "<6>", "<4>", "<3>"};
  const auto index = static_cast<int>(level);
  // journald stamps each line itself; anywhere else (a terminal, a file) the line carries it.
  std::string line = g_journal ? kSyslog[index] : timestamp();
  line += kNames[index];
  line += ": ";
  if (!probe.empty()) {
    line += "probe=";
    line += escapeText(probe, kMaxLogMessageBytes);
    line += ": ";
  }
  line += escapeText(message, kMaxLogMessageBytes);
  line += '\n';
  // One write per line keeps lines whole when several threads log.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace vigie
