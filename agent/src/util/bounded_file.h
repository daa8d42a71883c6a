// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace vigie {

/// Size caps of the files read at configuration time (docs/CONFIGURATION.md, "Limits").
inline constexpr std::size_t kMaxConfigFileBytes = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

/// The whole content of the regular file `path`, at most `max_bytes` long; nothing with `error`
/// set otherwise. Opened with O_NONBLOCK and checked with fstat before anything is read, so a
/// FIFO, a device (/dev/zero), a socket or a folder is refused at once instead of blocking the
/// loop or filling memory. The one reader of every file named in a configuration.
std::optional<std::string> readRegularFile(const std::string& path, std::size_t max_bytes,
                                           std::string& error);

}  // namespace vigie
