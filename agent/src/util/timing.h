// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <string>

namespace vigie {

/// Seconds elapsed on the steady clock since `start`.
double secondsSince(std::chrono::steady_clock::time_point start);

/// "12.3ms", for probe messages.
std::string milliseconds(double seconds);

}  // namespace vigie
