// SPDX-License-Identifier: Apache-2.0
#include "nagios/nagios_probe.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <asio/this_coro.hpp>
#include <cerrno>
#include <cstring>
#include <optional>

#include "nagios/plugin_output.h"
#include "process/process.h"
#include "util/bounded_file.h"
#include "util/log.h"
#include "util/utf8.h"

namespace vigie::probes {
namespace {

using Clock = std::chrono::steady_clock;

// Plugins get a known, minimal environment, never the agent's own. The PATH ends with the
// plugin folders of Debian's and RHEL's monitoring-plugins, so `command: [check_http, ...]`
// finds the plugin by its bare name.
const std::vector<std::pair<std::string, std::string>> kBaseEnvironment{
    {"PATH",
     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/nagios/plugins:"
     "/usr/lib64/nagios/plugins"},
    {"LC_ALL", "C"},  // decimal points in perfdata
};

struct Settings {
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> env;
  /// Variable name -> file whose content is its value, read at each run (rotated secrets).
  std::vector<std::pair<std::string, std::string>> env_files;
  std::chrono::milliseconds kill_grace{};
  bool perfdata = true;
};

std::string signalName(int signal) {
  const char* description = strsignal(signal);
  return "signal " + std::to_string(signal) +
         (description ? std::string(" (") + description + ")" : std::string());
}

/// One perfdata field and the family its values go to.
struct PerfdataSeries {
  FamilyHandle family;
  std::optional<double> PerfDatum::*field;
};

const std::vector<PerfdataSeries>& perfdataSeries() {
  static const std::vector<PerfdataSeries> series{
      {declareFamily("vigie_nagios_perfdata",
                     "Performance data value reported by the Nagios plugin"),
       &PerfDatum::value},
      {declareFamily("vigie_nagios_perfdata_warning",
                     "Warning threshold reported with the perfdata value"),
       &PerfDatum::warning},
      {declareFamily("vigie_nagios_perfdata_critical",
                     "Critical threshold reported with the perfdata value"),
       &PerfDatum::critical},
      {declareFamily("vigie_nagios_perfdata_min", "Minimum reported with the perfdata value"),
       &PerfDatum::min},
      {declareFamily("vigie_nagios_perfdata_max", "Maximum reported with the perfdata value"),
       &PerfDatum::max},
  };
  return series;
}

const FamilyHandle& exitCodeFamily() {
  static const FamilyHandle family =
      declareFamily("vigie_nagios_exit_code", "Exit code of the Nagios plugin");
  return family;
}

void addPerfdataSamples(const std::vector<PerfDatum>& perfdata, std::vector<Sample>& samples) {
  for (const PerfdataSeries& series : perfdataSeries()) {
    for (const PerfDatum& datum : perfdata) {
      if (const auto& value = datum.*series.field) {
        samples.push_back({series.family, *value, {{"label", datum.label}, {"uom", datum.uom}}});
      }
    }
  }
}

/// The content of a secret file without the trailing newline editors add; nothing when it
/// cannot be read (`error` says why).
std::optional<std::string> readValueFile(const std::string& path, std::string& error) {
  auto value = readRegularFile(path, kMaxSecretFileBytes, error);
  while (value && !value->empty() && (value->back() == '\n' || value->back() == '\r')) {
    value->pop_back();
  }
  return value;
}

/// Where `program` (a bare name) is in `path_list`, as execvp would find it; empty when absent.
std::string findInPath(const std::string& program, const std::string& path_list) {
  std::size_t start = 0;
  while (start <= path_list.size()) {
    const std::size_t end = std::min(path_list.find(':', start), path_list.size());
    const std::string folder = path_list.substr(start, end - start);
    const std::string candidate = (folder.empty() ? "." : folder) + "/" + program;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

/// The PATH the plugin gets: `env`'s own or the base one.
std::string searchPath(const std::vector<std::pair<std::string, std::string>>& env) {
  for (const auto& [name, value] : env) {
    if (name == "PATH") {
      return value;
    }
  }
  return kBaseEnvironment.front().second;
}

class NagiosProbe final : public Probe {
 public:
  explicit NagiosProbe(Settings settings) : settings_(std::move(settings)) {
    request_.argv = settings_.command;
    request_.env = kBaseEnvironment;
    for (const auto& [name, value] : settings_.env) {
      std::erase_if(request_.env,
                    [&name = name](const auto& entry) { return entry.first == name; });
      request_.env.emplace_back(name, value);
    }
    search_path_ = searchPath(settings_.env);
  }

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    ProcessRequest request = request_;
    // The plugin's PATH, not the agent's, decides where a bare name is found.
    const std::string& program = settings_.command.front();
    if (program.find('/') == std::string::npos) {
      request.argv.front() = findInPath(program, search_path_);
      if (request.argv.front().empty()) {
        co_return ProbeResult::unknown(
            "exec", "cannot run " + program + ": not found in PATH=" + search_path_);
      }
    }
    for (const auto& [name, path] : settings_.env_files) {
      std::string error;
      const auto value = readValueFile(path, error);
      if (!value) {
        co_return ProbeResult::unknown(
            "exec", "cannot run " + program + ": env_files." + name + ": " + error);
      }
      std::erase_if(request.env, [&name = name](const auto& entry) { return entry.first == name; });
      request.env.emplace_back(name, *value);
    }
    // SIGTERM leaves the plugin `kill_grace` (at most half the run) to exit before the deadline;
    // at the deadline the runner cancels the run, which kills the process group.
    const auto remaining = std::max(ctx.deadline - Clock::now(), Clock::duration::zero());
    const auto grace = std::min<Clock::duration>(settings_.kill_grace, remaining / 2);
    request.terminate_at = ctx.deadline - grace;
    request.kill_grace = std::chrono::duration_cast<std::chrono::milliseconds>(grace);
    ctx.phase = "plugin run";
    const ProcessOutcome outcome = co_await runProcess(request);
    co_return interpret(outcome);
  }

 private:
  ProbeResult interpret(const ProcessOutcome& outcome) const {
    const std::string& program = settings_.command.front();
    if (outcome.end == ProcessOutcome::End::SpawnFailed) {
      return ProbeResult::unknown(
          "exec", "cannot run " + program + ": " + std::strerror(outcome.spawn_errno));
    }
    const PluginOutput parsed = parsePluginOutput(outcome.output);
    ProbeResult result;
    const std::string text = parsed.text.empty() ? "(no output)" : parsed.text;
    if (outcome.end == ProcessOutcome::End::Signaled) {
      if (outcome.terminated) {
        result = ProbeResult::critical(
            "timeout", program + " did not finish in time; stopped with " +
                           (outcome.killed ? "SIGKILL" : "SIGTERM") + " (output: " + text + ")");
      } else {
        result = ProbeResult::unknown("signal",
                                      program + " was killed by " + signalName(outcome.signal));
      }
    } else if (outcome.exit_code >= 0 && outcome.exit_code <= 3) {
      result.status = static_cast<Status>(outcome.exit_code);
      result.reason = result.status == Status::Ok ? "" : "plugin";
      result.message = text;
    } else if (outcome.exit_code == 126 || outcome.exit_code == 127) {
      result = ProbeResult::unknown(
          "exec", program + " exited with " + std::to_string(outcome.exit_code) +
                      (outcome.exit_code == 126 ? " (not executable)" : " (command not found)") +
                      ": " + text);
    } else {
      result = ProbeResult::unknown("exit_code", program + " exited with code " +
                                                     std::to_string(outcome.exit_code) +
                                                     ", not 0-3: " + text);
    }
    result.details = parsed.long_text;
    if (outcome.output_truncated) {
      result.details.push_back("output cut at " + std::to_string(request_.max_output) + " bytes");
    }
    if (!outcome.error_output.empty()) {
      result.details.push_back("stderr: " + sanitizeText(outcome.error_output, 1024));
    }
    for (const std::string& problem : parsed.problems) {
      result.details.push_back(problem);
    }
    if (outcome.end == ProcessOutcome::End::Exited) {
      result.samples.push_back({exitCodeFamily(), static_cast<double>(outcome.exit_code)});
    }
    if (settings_.perfdata) {
      addPerfdataSamples(parsed.perfdata, result.samples);
    }
    return result;
  }

  Settings settings_;
  ProcessRequest request_;
  std::string search_path_;
};

class NagiosProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "nagios"; }

  const Families& families() const override {
    static const Families declared = [] {
      Families all{exitCodeFamily()};
      for (const PerfdataSeries& series : perfdataSeries()) {
        all.push_back(series.family);
      }
      return all;
    }();
    return declared;
  }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema{
        {"command",
         FieldType::StringList,
         true,
         {},
         "Plugin path and arguments, as a list (no shell: no quoting, no $VARIABLES)"},
        {"env",
         FieldType::StringMap,
         false,
         {},
         "Environment of the plugin, for secrets (values expand ${ENV}); PATH and LC_ALL=C are "
         "set unless given here, nothing else of the agent's environment is passed on"},
        {"env_files",
         FieldType::StringMap,
         false,
         {},
         "Environment variables whose value is the content of a file (secrets), read at each "
         "run without the trailing newline"},
        {"kill_grace", FieldType::Duration, false, "1s",
         "Time between SIGTERM and the deadline (at most half the timeout); SIGKILL follows"},
        {"perfdata", FieldType::Bool, false, "true",
         "Export the plugin's performance data as vigie_nagios_perfdata* metrics"},
    };
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    Settings settings;
    settings.command = config.getStringList("command");
    if (settings.command.empty() || settings.command.front().empty()) {
      config.fail("command",
                  "must name the plugin to run, e.g. [/usr/lib/nagios/plugins/check_dummy, \"0\"]");
    }
    // "scripts/check_batch.sh" is next to the config file that names it; a bare name is
    // searched in the plugin's PATH at each run.
    if (settings.command.front().find('/') != std::string::npos) {
      settings.command.front() = config.resolvePath("command", settings.command.front());
    }
    if (config.has("env")) {
      settings.env = config.getStringMap("env");
      for (const auto& [name, value] : settings.env) {
        if (name.empty() || name.find('=') != std::string::npos) {
          config.fail("env", "'" + name + "' is not a valid environment variable name");
        }
      }
    }
    if (config.has("env_files")) {
      for (const auto& [name, path] : config.getStringMap("env_files")) {
        if (name.empty() || name.find('=') != std::string::npos) {
          config.fail("env_files", "'" + name + "' is not a valid environment variable name");
        }
        const auto in_env = std::find_if(settings.env.begin(), settings.env.end(),
                                         [&name = name](const auto& e) { return e.first == name; });
        if (in_env != settings.env.end()) {
          config.fail("env_files", name + " is set in both env and env_files");
        }
        std::string error;
        const std::string resolved = config.resolvePath("env_files", path);
        if (!readValueFile(resolved, error)) {
          config.fail("env_files", name + ": " + error);
        }
        settings.env_files.emplace_back(name, resolved);
      }
    }
    // Only a warning: the plugin may be installed after the configuration (by the same Ansible
    // run), and each run looks again.
    const std::string& program = settings.command.front();
    const bool bare = program.find('/') == std::string::npos;
    if (bare ? findInPath(program, searchPath(settings.env)).empty()
             : ::access(program.c_str(), X_OK) != 0) {
      logLine(LogLevel::Warning, config.probeName(),
              "command " + program +
                  (bare ? " is not found in PATH=" + searchPath(settings.env)
                        : " is not an executable file") +
                  ": the probe will be UNKNOWN (exec) until it is");
    }
    settings.kill_grace = config.getDuration("kill_grace");
    settings.perfdata = config.getBool("perfdata");
    return std::make_unique<NagiosProbe>(std::move(settings));
  }
};

}  // namespace

ProbeFactoryPtr makeNagiosProbeFactory() { return std::make_unique<NagiosProbeFactory>(); }

}  // namespace vigie::probes
