// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

namespace vigie {

/// Text made safe inside HTML content and quoted attribute values: & < > " ' escaped. For the
/// console's pages and the HTML descriptions sent to iTop.
std::string htmlEscape(std::string_view text);

}  // namespace vigie
