// SPDX-License-Identifier: Apache-2.0
#include "util/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vigie {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::Info};
const bool g_journal = std::getenv("JOURNAL_STREAM") != nullptr;

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
  std::string line = g_journal ? kSyslog[index] : "";
  line += kNames[index];
  line += ": ";
  if (!probe.empty()) {
    line += "probe=";
    line += probe;
    line += ": ";
  }
  line += message;
  line += '\n';
  // One write per line keeps lines whole when several threads log.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace vigie
