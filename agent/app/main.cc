// SPDX-License-Identifier: Apache-2.0
// vigie-agent: argument parsing and the choice of mode; everything else lives in agent_core.
#include <curl/curl.h>
#include <malloc.h>
#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "config/loader.h"
#include "daemon/daemon.h"
#include "daemon/single_run.h"
#include "process/process.h"
#include "util/log.h"
#include "util/utf8.h"
#include "vigie/registry.h"
#include "vigie/version.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/vigie/vigie.yaml";

constexpr const char* kUsage = R"(Usage: vigie-agent [--config FILE]
       vigie-agent --check-config [--config FILE]
       vigie-agent --probe NAME [--config FILE]
       vigie-agent --list [--json] [--config FILE]
       vigie-agent --version | --help

Runs the Vigie supervision agent: probes on a schedule, Prometheus metrics on /metrics.

  --config FILE    configuration file (default /etc/vigie/vigie.yaml)
  --check-config   validate the configuration, print every error, exit 0 if valid, 1 if not
  --probe NAME     run probe NAME once and print a Nagios plugin line; the exit code is
                   0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
  --list           list the configured probes (name, type, interval, timeout, labels) without
                   running them; --json prints them as a JSON array
  --version        print the version
  --help           print this help

Signals: SIGHUP reloads the configuration, SIGTERM and SIGINT stop the agent.
)";

enum class Mode { Daemon, CheckConfig, Probe, List };

/// "30s", "5m", "1h30m": the configuration's own syntax.
std::string formatDuration(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 != 0) {
    return std::to_string(duration.count()) + "ms";
  }
  long long seconds = duration.count() / 1000;
  std::string out;
  for (const auto& [unit, size] : {std::pair{"h", 3600LL}, std::pair{"m", 60LL}}) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + unit;
      seconds %= size;
    }
  }
  if (seconds > 0 || out.empty()) {
    out += std::to_string(seconds) + "s";
  }
  return out;
}

/// --list: the probes as the configuration declares them, nothing run.
void listProbes(const vigie::AgentConfig& config, bool as_json) {
  if (as_json) {
    nlohmann::json probes = nlohmann::json::array();
    for (const vigie::ProbeSpec& spec : config.probes) {
      nlohmann::json labels = nlohmann::json::object();
      for (const auto& [key, value] : spec.labels) {
        labels[key] = value;
      }
      probes.push_back({{"name", spec.name},
                        {"type", spec.type},
                        {"interval_seconds", spec.interval.count() / 1000.0},
                        {"timeout_seconds", spec.timeout.count() / 1000.0},
                        {"labels", labels},
                        {"depends_on", spec.depends_on},
                        {"file", spec.location.file},
                        {"line", spec.location.line}});
    }
    std::cout << probes.dump(2) << "\n";
    return;
  }
  std::vector<std::array<std::string, 5>> rows{{"NAME", "TYPE", "INTERVAL", "TIMEOUT", "LABELS"}};
  for (const vigie::ProbeSpec& spec : config.probes) {
    std::string labels;
    for (const auto& [key, value] : spec.labels) {
      labels += (labels.empty() ? "" : " ") + key + "=" + value;
    }
    rows.push_back({spec.name, spec.type, formatDuration(spec.interval),
                    formatDuration(spec.timeout), labels});
  }
  std::array<std::size_t, 5> widths{};
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - row[i].size() + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    std::cout << line << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Each /metrics body (~10 MB at 10,000 probes) is built and freed every scrape. A fixed mmap
  // threshold keeps such buffers out of the heap, so their pages go back to the system; glibc's
  // default would raise the threshold after the first free and keep them resident.
  mallopt(M_MMAP_THRESHOLD, 512 * 1024);
  // No fastbins: every free coalesces at once. The parsed YAML document lives in its own arena
  // (parseYamlInOwnArena); with fastbins, its last small chunks were only merged by the
  // consolidation inside malloc_trim, which then turned ~40 MiB of freed nodes into that arena's
  // top chunk, and glibc trims the top of a non-main arena only from free(), never from
  // malloc_trim: the pages stayed resident for good (RSS 40 -> 80 MiB at 10,000 probes, depending
  // on the heap layout, e.g. the length of the config path). Coalescing frees trim that top as
  // the document goes; tcache still serves the hot small sizes.
  mallopt(M_MXFAST, 0);
  // Plugin descendants that leave their process group become our children when their parent
  // dies, so the agent can end them (see process/process.h).
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::string config_path = kDefaultConfig;
  std::string probe_name;
  Mode mode = Mode::Daemon;
  bool as_json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if ((arg == "--config" || arg == "-c") && has_value) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(std::strlen("--config="));
    } else if (arg == "--list") {
      mode = Mode::List;
    } else if (arg == "--json") {
      as_json = true;
    } else if (arg == "--check-config") {
      mode = Mode::CheckConfig;
    } else if (arg == "--probe" && has_value) {
      mode = Mode::Probe;
      probe_name = argv[++i];
    } else if (arg == "--version") {
      std::cout << "vigie-agent " << vigie::kVersion << " (revision " << vigie::kRevision << ")\n";
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "vigie-agent: unknown argument or missing value: '" << arg << "'\n" << kUsage;
      return 3;
    }
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  // Built-in types plus the plugins of agent.plugin_dirs; declared before `config`, whose probes
  // it created.
  std::shared_ptr<const vigie::ProbeRegistry> registry;
  vigie::AgentConfig config;
  try {
    // --probe NAME reads only that probe: another probe's unset ${ENV} does not stop it.
    vigie::LoadedConfig loaded =
        vigie::loadConfig(config_path, mode == Mode::Probe ? probe_name : std::string());
    registry = std::move(loaded.registry);
    config = std::move(loaded.config);
  } catch (const vigie::ConfigError& e) {
    for (const vigie::ConfigIssue& issue : e.issues()) {
      // A name or value quoted from the file may hold control characters or invalid UTF-8.
      std::cerr << vigie::escapeText(issue.format(), vigie::kMaxLogMessageBytes) << "\n";
    }
    std::cerr << "vigie-agent: " << e.issues().size() << " error(s) in the configuration\n";
    return mode == Mode::Probe ? 3 : 1;
  }

  switch (mode) {
    case Mode::CheckConfig:
      for (const vigie::ConfigIssue& warning : config.warnings) {
        std::cerr << "warning: " << vigie::escapeText(warning.format(), vigie::kMaxLogMessageBytes)
                  << "\n";
      }
      std::cout << config_path << ": OK, " << config.probes.size() << " probes\n";
      return 0;
    case Mode::Probe: {
      for (const vigie::ProbeSpec& spec : config.probes) {
        if (spec.name == probe_name) {
          const vigie::RunOutcome outcome = vigie::runOnce(spec);
          vigie::endPluginDescendants();
          std::cout << vigie::formatNagios(spec, outcome);
          return static_cast<int>(outcome.result.status);
        }
      }
      std::cout << "UNKNOWN - no probe named '" << probe_name << "' in " << config_path << "\n";
      return 3;
    }
    case Mode::List:
      listProbes(config, as_json);
      return 0;
    case Mode::Daemon:
      break;
  }

  vigie::setLogLevel(config.agent.log_level);
  int status = 0;
  try {
    vigie::Daemon daemon(config_path, registry, std::move(config));
    status = daemon.run();
  } catch (const std::runtime_error& e) {
    vigie::logError(std::string("cannot start: ") + e.what());
    status = 1;
  }
  // The loop is gone: what its cancelled plugin runs left behind goes with the agent.
  vigie::endPluginDescendants();
  return status;
}
