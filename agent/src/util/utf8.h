// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

namespace vigie {

/// `text` with every invalid UTF-8 sequence replaced by U+FFFD and control characters (tabs
/// included) by spaces, cut at `max_bytes` on a character boundary: safe for metric labels,
/// logs and the CMDB whatever a plugin printed.
std::string sanitizeText(std::string_view text, std::size_t max_bytes = 4096);

}  // namespace vigie
