// SPDX-License-Identifier: Apache-2.0
#include "util/utf8.h"

#include <algorithm>

namespace vigie {
namespace {

// Length of the valid UTF-8 sequence at the start of `text`, 0 when it is not valid.
std::size_t validSequenceLength(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned int low = 0x80;
  unsigned int high = 0xBF;
  if (lead < 0x80) {
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    low = lead == 0xE0 ? 0xA0 : 0x80;   // no overlong forms
    high = lead == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    low = lead == 0xF0 ? 0x90 : 0x80;
    high = lead == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) {
    return 0;
  }
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) {
      return 0;
    }
  }
  return length;
}

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // …

std::string cutMarker(std::size_t left_out) {
  return std::string(kEllipsis) + " [cut, " + std::to_string(left_out) + " bytes]";
}

}  // namespace

std::string cutText(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return std::string(text);
  }
  std::size_t end = max_bytes;
  // Back to the start of the character that straddles the limit (continuation bytes 10xxxxxx).
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return std::string(text.substr(0, end)) + cutMarker(text.size() - end);
}

std::string escapeText(std::string_view text, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Most lines: short printable ASCII, returned as they are.
  if (text.size() <= max_bytes &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F; })) {
    return std::string(text);
  }
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 32);
  while (!text.empty()) {
    const std::size_t length = validSequenceLength(text);
    const auto lead = static_cast<unsigned char>(text[0]);
    std::string piece;
    if (length == 0 || (length == 1 && (lead < 0x20 || lead == 0x7F))) {
      switch (lead) {
        case '\n':
          piece = "\\n";
          break;
        case '\r':
          piece = "\\r";
          break;
        case '\t':
          piece = "\\t";
          break;
        default:
          piece = {'\\', 'x', kHex[lead >> 4], kHex[lead & 0xF]};
      }
    } else {
      piece = text.substr(0, length);
    }
    if (out.size() + piece.size() > max_bytes) {
      out += cutMarker(text.size());
      break;
    }
    out += piece;
    text.remove_prefix(std::max<std::size_t>(length, 1));
  }
  return out;
}

std::string sanitizeText(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  while (!text.empty()) {
    const std::size_t length = validSequenceLength(text);
    std::string_view piece;
    if (length == 0) {
      piece = "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else if (length == 1 && (static_cast<unsigned char>(text[0]) < 0x20 || text[0] == 0x7F)) {
      piece = " ";
      text.remove_prefix(1);
    } else {
      piece = text.substr(0, length);
      text.remove_prefix(length);
    }
    if (out.size() + piece.size() > max_bytes) {
      break;
    }
    out.append(piece);
  }
  return out;
}

}  // namespace vigie
