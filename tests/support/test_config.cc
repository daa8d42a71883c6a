// SPDX-License-Identifier: Apache-2.0
#include "test_config.h"

#include <filesystem>
#include <fstream>

#include "config/loader.h"
#include "daemon/single_run.h"
#include "test_certs.h"

namespace vigie::test {

AgentConfig loadYaml(const std::string& yaml) {
  const std::string dir = makeTempDir();
  const std::string path = dir + "/vigie.yaml";
  std::ofstream(path) << yaml;
  ProbeRegistry registry;
  registerBuiltinProbes(registry);
  AgentConfig config = loadConfig(path, registry);
  std::filesystem::remove_all(dir);
  return config;
}

ProbeSpec probeFromYaml(const std::string& yaml) { return loadYaml(yaml).probes.at(0); }

RunOutcome runSpec(const ProbeSpec& spec) { return runOnce(spec); }

}  // namespace vigie::test
