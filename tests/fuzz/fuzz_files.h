// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vigie::fuzz {

/// Writes the input to a file of a private folder (made once per process) and returns its
/// path: the loaders read files, not strings.
std::string writeInput(const std::string& name, const std::uint8_t* data, std::size_t size);

}  // namespace vigie::fuzz
