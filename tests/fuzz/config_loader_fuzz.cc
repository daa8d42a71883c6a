// SPDX-License-Identifier: Apache-2.0
// The configuration loader on any file: it must answer with a config or a ConfigError, never
// crash, hang or run out of memory (the same path serves --check-config and every reload).
#include <cstdint>

#include "config/loader.h"
#include "fuzz_files.h"
#include "vigie/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const vigie::ProbeRegistry* registry = [] {
    auto* built = new vigie::ProbeRegistry;
    vigie::registerBuiltinProbes(*built);
    return built;
  }();
  const std::string path = vigie::fuzz::writeInput("vigie.yaml", data, size);
  try {
    vigie::loadConfig(path, *registry);
  } catch (const vigie::ConfigError&) {
    // a refused file is a correct answer
  }
  return 0;
}
