// SPDX-License-Identifier: Apache-2.0
#include "nagios/nagios_probe.h"

#include <asio/this_coro.hpp>
#include <cstring>

#include "nagios/plugin_output.h"
#include "process/process.h"
#include "util/utf8.h"

namespace vigie::probes {
namespace {

using Clock = std::chrono::steady_clock;

// Plugins get a known, minimal environment, never the agent's own.
const std::vector<std::pair<std::string, std::string>> kBaseEnvironment{
    {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
    {"LC_ALL", "C"},  // decimal points in perfdata
};

struct Settings {
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> env;
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
  }

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    ProcessRequest request = request_;
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
    if (config.has("env")) {
      settings.env = config.getStringMap("env");
      for (const auto& [name, value] : settings.env) {
        if (name.empty() || name.find('=') != std::string::npos) {
          config.fail("env", "'" + name + "' is not a valid environment variable name");
        }
      }
    }
    settings.kill_grace = config.getDuration("kill_grace");
    settings.perfdata = config.getBool("perfdata");
    return std::make_unique<NagiosProbe>(std::move(settings));
  }
};

}  // namespace

ProbeFactoryPtr makeNagiosProbeFactory() { return std::make_unique<NagiosProbeFactory>(); }

}  // namespace vigie::probes
