// SPDX-License-Identifier: Apache-2.0
// Runs one configured probe back to back, as pgbench -C does, and prints the process's CPU
// seconds per 1,000 runs: the probe's own cost without the agent's scheduling around it.
// Used by bench/db_bench.py. Usage: db_probe_loop CONFIG.yaml RUNS
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/loader.h"
#include "daemon/single_run.h"
#include "vigie/registry.h"

namespace {

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CONFIG.yaml RUNS\n", argv[0]);
    return 2;
  }
  vigie::ProbeRegistry registry;
  vigie::registerBuiltinProbes(registry);
  const vigie::AgentConfig config = vigie::loadConfig(argv[1], registry);
  const vigie::ProbeSpec& spec = config.probes.at(0);
  const int runs = std::atoi(argv[2]);
  int failed = 0;
  const double before = cpuSeconds();
  for (int i = 0; i < runs; ++i) {
    failed += vigie::runOnce(spec).result.status != vigie::Status::Ok;
  }
  const double cpu = cpuSeconds() - before;
  std::printf("%.6f %d\n", cpu / runs * 1000, failed);
  return 0;
}
