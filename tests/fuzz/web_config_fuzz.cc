// SPDX-License-Identifier: Apache-2.0
// The endpoint's web config file (TLS and basic auth) on any input: a WebConfig or a
// ConfigError, nothing else.
#include <cstdint>

#include "config/loader.h"
#include "fuzz_files.h"
#include "config/web_config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = vigie::fuzz::writeInput("web.yaml", data, size);
  try {
    vigie::loadWebConfig(path);
  } catch (const vigie::ConfigError&) {
    // a refused file is a correct answer
  }
  return 0;
}
