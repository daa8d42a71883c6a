// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

namespace vigie {

/// `text` with every invalid UTF-8 sequence replaced by U+FFFD and control characters (tabs
/// included) by spaces, cut at `max_bytes` on a character boundary: safe for metric labels,
/// logs and the CMDB whatever a plugin printed.
std::string sanitizeText(std::string_view text, std::size_t max_bytes = 4096);

/// `text` cut at a character boundary so that it holds at most `max_bytes`, followed by
/// "… [cut, N bytes]" (N: the bytes left out) when it was longer; as it is otherwise.
std::string cutText(std::string_view text, std::size_t max_bytes);

/// `text` for a log line or an error message: control characters written as \n, \r, \t or
/// \xNN and each byte of an invalid UTF-8 sequence as \xNN, so that what a file or a target
/// sent can neither forge a line nor break a terminal; past `max_bytes` of output, cut with
/// "… [cut, N bytes]" (N: the input bytes left out).
std::string escapeText(std::string_view text, std::size_t max_bytes);

}  // namespace vigie
