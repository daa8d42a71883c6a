// SPDX-License-Identifier: Apache-2.0
#include "util/timing.h"

#include <cstdio>

namespace vigie {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string milliseconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fms", seconds * 1000);
  return text;
}

}  // namespace vigie
