// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string_view>

namespace vigie {

enum class LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3 };

/// Sets the lowest level written; "debug", "info", "warning" or "error".
void setLogLevel(std::string_view level);

/// Past this many bytes a message is cut with "… [cut, N bytes]" (docs/OPERATIONS.md).
inline constexpr std::size_t kMaxLogMessageBytes = 8 * 1024;

/// Writes one line to stderr. Under systemd (JOURNAL_STREAM set) each line carries a
/// "<N>" priority prefix so journald records the right level. The probe name and the message
/// are escaped (escapeText): a newline or an escape sequence from a target stays in its line.
void logLine(LogLevel level, std::string_view probe, std::string_view message);

inline void logDebug(std::string_view message) { logLine(LogLevel::Debug, {}, message); }
inline void logInfo(std::string_view message) { logLine(LogLevel::Info, {}, message); }
inline void logWarning(std::string_view message) { logLine(LogLevel::Warning, {}, message); }
inline void logError(std::string_view message) { logLine(LogLevel::Error, {}, message); }

}  // namespace vigie
