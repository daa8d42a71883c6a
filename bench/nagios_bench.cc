// SPDX-License-Identifier: Apache-2.0
// Cost of `type: nagios`: probes per second and CPU per 1,000 runs of check_dummy through the
// real factory and runner, sequentially and 64 at a time, against the same plugin run 1,000
// times by a shell loop. Prints its figures; run by hand:
//   build/bench/nagios_bench [RUNS]
#include <sys/resource.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.h"
#include "runner/probe_runner.h"
#include "vigie/registry.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kPlugin = "/usr/lib/nagios/plugins/check_dummy";

double cpuSeconds(int who) {
  rusage usage{};
  getrusage(who, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct Figures {
  double wall = 0;
  double own_cpu = 0;
  double child_cpu = 0;
};

void print(const char* what, int runs, const Figures& f) {
  std::printf(
      "%-34s %6d runs %8.2f s %9.0f probes/s  CPU per 1000: agent %7.3f s, plugins %7.3f s\n", what,
      runs, f.wall, runs / f.wall, f.own_cpu * 1000 / runs, f.child_cpu * 1000 / runs);
}

template <typename Body>
Figures measure(Body body) {
  const double self_before = cpuSeconds(RUSAGE_SELF);
  const double children_before = cpuSeconds(RUSAGE_CHILDREN);
  const auto started = Clock::now();
  body();
  Figures f;
  f.wall = std::chrono::duration<double>(Clock::now() - started).count();
  f.own_cpu = cpuSeconds(RUSAGE_SELF) - self_before;
  f.child_cpu = cpuSeconds(RUSAGE_CHILDREN) - children_before;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 1000;
  const std::string dir = std::filesystem::temp_directory_path() / "vigie_nagios_bench";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/vigie.yaml";
  std::ofstream(path) << "probes:\n  - name: dummy\n    type: nagios\n    timeout: 10s\n"
                      << "    nagios: { command: [" << kPlugin << ", \"0\", ok] }\n";
  vigie::ProbeRegistry registry;
  vigie::registerBuiltinProbes(registry);
  const vigie::AgentConfig config = vigie::loadConfig(path, registry);
  const vigie::ProbeSpec& spec = config.probes.at(0);

  for (const int concurrency : {1, 64}) {
    int started = 0;
    int ok = 0;
    const Figures f = measure([&] {
      asio::io_context io;
      for (int worker = 0; worker < concurrency; ++worker) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
              while (started < runs) {
                ++started;
                const auto outcome = co_await vigie::runProbe(*spec.probe, spec.name, spec.timeout);
                ok += outcome.result.status == vigie::Status::Ok ? 1 : 0;
              }
            },
            asio::detached);
      }
      io.run();
    });
    if (ok != runs) {
      std::fprintf(stderr, "only %d of %d runs were OK\n", ok, runs);
      return 1;
    }
    const std::string label = "vigie type nagios, " + std::to_string(concurrency) + " at a time";
    print(label.c_str(), runs, f);
  }

  const std::string loop = "i=0; while [ $i -lt " + std::to_string(runs) + " ]; do " + kPlugin +
                           " 0 ok >/dev/null; i=$((i+1)); done";
  const std::string command = "/bin/sh -c '" + loop + "'";
  int status = 0;
  Figures shell = measure([&] { status = std::system(command.c_str()); });
  if (status != 0) {
    std::fprintf(stderr, "shell loop failed\n");
    return 1;
  }
  // The shell is itself a child: all of its CPU is on the children's side.
  print("sh loop, 1 at a time", runs, shell);
  std::filesystem::remove_all(dir);
  return 0;
}
