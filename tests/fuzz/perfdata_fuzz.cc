// SPDX-License-Identifier: Apache-2.0
// A plugin's stdout, as untrusted as it gets: parsing never throws and keeps what it promises.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "nagios/plugin_output.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view output(reinterpret_cast<const char*>(data), size);
  const vigie::probes::PluginOutput parsed = vigie::probes::parsePluginOutput(output);
  std::vector<std::string> problems;
  const auto items = vigie::probes::parsePerfdata(output, problems);
  // Every perfdata item comes from the input: never more labels than input bytes.
  if (parsed.perfdata.size() > size || items.size() > size) {
    std::abort();
  }
  return 0;
}
