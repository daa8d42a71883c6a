// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "config/loader.h"
#include "process/process.h"
#include "test_certs.h"
#include "test_config.h"
#include "test_server.h"

namespace vigie {
namespace {

using Clock = std::chrono::steady_clock;
const std::string kPlugins = "/usr/lib/nagios/plugins/";
const std::string kScripts = std::string(VIGIE_TEST_DATA_DIR) + "/plugins/";

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

RunOutcome runNagios(const std::vector<std::string>& command, const std::string& timeout = "5s",
                     const std::string& extra = "") {
  std::string list;
  for (const std::string& arg : command) {
    list += (list.empty() ? "" : ", ") + quoted(arg);
  }
  return test::runSpec(
      test::probeFromYaml("probes:\n  - name: n\n    type: nagios\n    timeout: " + timeout +
                          "\n    nagios: { command: [" + list + "]" + extra + " }\n"));
}

const Sample* findSample(const RunOutcome& outcome, const std::string& name,
                         const std::string& label) {
  for (const Sample& s : outcome.result.samples) {
    if (s.name() == name && !s.labels.empty() && s.labels[0].second == label) {
      return &s;
    }
  }
  return nullptr;
}

bool hasDetail(const RunOutcome& outcome, const std::string& part) {
  for (const std::string& line : outcome.result.details) {
    if (line.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(NagiosProbe, CheckDummyExitCodesMapToStatuses) {
  for (int code = 0; code <= 3; ++code) {
    const RunOutcome outcome = runNagios({kPlugins + "check_dummy", std::to_string(code), "hello"});
    EXPECT_EQ(static_cast<int>(outcome.result.status), code) << outcome.result.message;
    EXPECT_NE(outcome.result.message.find("hello"), std::string::npos) << outcome.result.message;
    EXPECT_EQ(outcome.result.reason, code == 0 ? "" : "plugin");
  }
}

TEST(NagiosProbe, CheckTcpAgainstALocalListener) {
  test::TestTcpServer server({});
  const RunOutcome up =
      runNagios({kPlugins + "check_tcp", "-H", "127.0.0.1", "-p", std::to_string(server.port())});
  EXPECT_EQ(up.result.status, Status::Ok) << up.result.message;
  const Sample* time = findSample(up, "vigie_nagios_perfdata", "time");
  ASSERT_NE(time, nullptr);
  EXPECT_EQ(time->labels[1], (std::pair<std::string, std::string>{"uom", "s"}));
  EXPECT_GE(time->value, 0.0);
  EXPECT_NE(findSample(up, "vigie_nagios_perfdata_max", "time"), nullptr);

  const RunOutcome down = runNagios(
      {kPlugins + "check_tcp", "-H", "127.0.0.1", "-p", std::to_string(test::closedPort())});
  EXPECT_EQ(down.result.status, Status::Critical) << down.result.message;
  EXPECT_EQ(down.result.reason, "plugin");
}

TEST(NagiosProbe, CheckHttpAgainstALocalServer) {
  test::TestTcpServer server(
      {.greeting = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", .close_after_greeting = true});
  const RunOutcome outcome =
      runNagios({kPlugins + "check_http", "-H", "127.0.0.1", "-p", std::to_string(server.port())});
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_NE(findSample(outcome, "vigie_nagios_perfdata", "size"), nullptr);
}

TEST(NagiosProbe, PerfdataEdgeCasesBecomeMetrics) {
  const RunOutcome outcome = runNagios({kScripts + "perfdata_edges.sh"});
  EXPECT_EQ(outcome.result.status, Status::Warning);
  EXPECT_EQ(outcome.result.message, "WARNING - disk almost full");
  EXPECT_EQ(outcome.result.details[0], "long text line 1");
  EXPECT_EQ(outcome.result.details[1], "long text line 2");
  const Sample* used = findSample(outcome, "vigie_nagios_perfdata", "/ used");
  ASSERT_NE(used, nullptr);
  EXPECT_EQ(used->value, 91);
  EXPECT_EQ(used->labels[1].second, "%");
  EXPECT_EQ(findSample(outcome, "vigie_nagios_perfdata_warning", "/ used")->value, 80);
  EXPECT_EQ(findSample(outcome, "vigie_nagios_perfdata_critical", "/ used")->value, 90);
  EXPECT_EQ(findSample(outcome, "vigie_nagios_perfdata_min", "/ used")->value, 0);
  EXPECT_EQ(findSample(outcome, "vigie_nagios_perfdata_max", "/ used")->value, 100);
  EXPECT_NE(findSample(outcome, "vigie_nagios_perfdata", "it's"), nullptr);
  EXPECT_EQ(findSample(outcome, "vigie_nagios_perfdata", "var log")->value, 12.5);
  EXPECT_NE(findSample(outcome, "vigie_nagios_perfdata", "bare"), nullptr);
  // "U" has no value and ranges have no single threshold: no series rather than a made-up one.
  EXPECT_EQ(findSample(outcome, "vigie_nagios_perfdata", "unknown"), nullptr);
  EXPECT_NE(findSample(outcome, "vigie_nagios_perfdata", "ranged"), nullptr);
  EXPECT_EQ(findSample(outcome, "vigie_nagios_perfdata_warning", "ranged"), nullptr);
}

TEST(NagiosProbe, PerfdataCanBeTurnedOff) {
  const RunOutcome outcome = runNagios({kScripts + "perfdata_edges.sh"}, "5s", ", perfdata: false");
  EXPECT_EQ(findSample(outcome, "vigie_nagios_perfdata", "bare"), nullptr);
}

TEST(NagiosProbe, ExitCodeOutsideTheGuidelinesIsUnknown) {
  const RunOutcome outcome = runNagios({kScripts + "exit_42.sh"});
  EXPECT_EQ(outcome.result.status, Status::Unknown);
  EXPECT_EQ(outcome.result.reason, "exit_code");
  EXPECT_NE(outcome.result.message.find("code 42"), std::string::npos) << outcome.result.message;
}

TEST(NagiosProbe, MissingAndNonExecutableProgramsAreUnknown) {
  const RunOutcome missing = runNagios({kScripts + "does_not_exist"});
  EXPECT_EQ(missing.result.status, Status::Unknown);
  EXPECT_EQ(missing.result.reason, "exec");
  EXPECT_NE(missing.result.message.find("No such file"), std::string::npos)
      << missing.result.message;

  const RunOutcome denied = runNagios({kScripts + "not_executable.sh"});
  EXPECT_EQ(denied.result.status, Status::Unknown);
  EXPECT_EQ(denied.result.reason, "exec");
  EXPECT_NE(denied.result.message.find("Permission denied"), std::string::npos)
      << denied.result.message;

  // A shell wrapper reporting "command not found" the shell's way (127).
  const RunOutcome wrapped = runNagios({"/bin/sh", "-c", "exec /nonexistent/check_x"});
  EXPECT_EQ(wrapped.result.status, Status::Unknown);
  EXPECT_EQ(wrapped.result.reason, "exec");
  EXPECT_NE(wrapped.result.message.find("127"), std::string::npos) << wrapped.result.message;
}

TEST(NagiosProbe, BareNameIsFoundInThePluginFolders) {
  const RunOutcome outcome = runNagios({"check_dummy", "1", "found by name"});
  EXPECT_EQ(outcome.result.status, Status::Warning) << outcome.result.message;
  EXPECT_NE(outcome.result.message.find("found by name"), std::string::npos);
}

TEST(NagiosProbe, UnknownBareNameShowsThePathSearched) {
  const RunOutcome outcome = runNagios({"check_vigie_no_such_plugin"});
  EXPECT_EQ(outcome.result.status, Status::Unknown);
  EXPECT_EQ(outcome.result.reason, "exec");
  EXPECT_NE(outcome.result.message.find("check_vigie_no_such_plugin: not found in PATH="),
            std::string::npos)
      << outcome.result.message;
  EXPECT_NE(outcome.result.message.find("/usr/lib/nagios/plugins:/usr/lib64/nagios/plugins"),
            std::string::npos)
      << outcome.result.message;
}

// A probes.d file names its script and secret files relative to its own folder; the secret is
// read at each run, so a rotated file needs no reload.
TEST(NagiosProbe, ScriptAndEnvFilesAreNextToTheConfigFile) {
  const std::string dir = test::makeTempDir();
  std::filesystem::create_directories(dir + "/probes.d/scripts");
  std::filesystem::copy_file(kScripts + "print_env.sh", dir + "/probes.d/scripts/print_env.sh");
  std::ofstream(dir + "/probes.d/db.pass") << "s3cret\n";
  std::ofstream(dir + "/vigie.yaml") << "include: [\"probes.d/*.yaml\"]\n";
  std::ofstream(dir + "/probes.d/db.yaml")
      << "probes:\n  - { name: n, type: nagios, nagios: { command: [scripts/print_env.sh], "
         "env_files: { PGPASSWORD: db.pass } } }\n";
  const LoadedConfig loaded = loadConfig(dir + "/vigie.yaml");
  ASSERT_EQ(loaded.config.probes.size(), 1u);
  const RunOutcome first = test::runSpec(loaded.config.probes[0]);
  ASSERT_EQ(first.result.status, Status::Ok) << first.result.message;
  EXPECT_TRUE(hasDetail(first, "PGPASSWORD=s3cret"));
  std::ofstream(dir + "/probes.d/db.pass") << "rotated";
  EXPECT_TRUE(hasDetail(test::runSpec(loaded.config.probes[0]), "PGPASSWORD=rotated"));
  std::filesystem::remove(dir + "/probes.d/db.pass");
  const RunOutcome gone = test::runSpec(loaded.config.probes[0]);
  EXPECT_EQ(gone.result.status, Status::Unknown);
  EXPECT_NE(gone.result.message.find("env_files.PGPASSWORD"), std::string::npos)
      << gone.result.message;
  // Checked at load too, and never both forms for one variable.
  EXPECT_THROW(loadConfig(dir + "/vigie.yaml"), ConfigError);
  std::ofstream(dir + "/probes.d/db.pass") << "s3cret\n";
  std::ofstream(dir + "/probes.d/db.yaml")
      << "probes:\n  - { name: n, type: nagios, nagios: { command: [scripts/print_env.sh], "
         "env: { PGPASSWORD: x }, env_files: { PGPASSWORD: db.pass } } }\n";
  EXPECT_THROW(loadConfig(dir + "/vigie.yaml"), ConfigError);
  std::filesystem::remove_all(dir);
}

TEST(NagiosProbe, KilledBySignalIsUnknown) {
  const RunOutcome outcome = runNagios({"/bin/sh", "-c", "kill -SEGV $$"});
  EXPECT_EQ(outcome.result.status, Status::Unknown);
  EXPECT_EQ(outcome.result.reason, "signal");
  EXPECT_NE(outcome.result.message.find("signal 11"), std::string::npos) << outcome.result.message;
}

TEST(NagiosProbe, BinaryGarbageIsMadeSafe) {
  const RunOutcome outcome = runNagios({kScripts + "garbage.sh"});
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.message.find('\0'), std::string::npos);
  EXPECT_NE(outcome.result.message.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(findSample(outcome, "vigie_nagios_perfdata", "good"), nullptr);
  EXPECT_TRUE(hasDetail(outcome, "no numeric value"));
}

TEST(NagiosProbe, HugeOutputIsBounded) {
  const RunOutcome outcome = runNagios({kScripts + "big_output.sh"});
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_EQ(outcome.result.message, "OK - lots of output");
  EXPECT_TRUE(hasDetail(outcome, "output cut at 65536 bytes"));
  EXPECT_NE(findSample(outcome, "vigie_nagios_perfdata", "size"), nullptr);
}

TEST(NagiosProbe, StderrIsKeptInTheDetails) {
  const RunOutcome outcome = runNagios({kScripts + "stderr_message.sh"});
  EXPECT_EQ(outcome.result.status, Status::Unknown);
  EXPECT_TRUE(hasDetail(outcome, "stderr: open(/etc/missing.conf)"));
}

TEST(NagiosProbe, EnvironmentIsMinimalAndCarriesConfiguredValues) {
  ::setenv("VIGIE_TEST_AGENT_SECRET", "s3cret", 1);
  const RunOutcome outcome =
      runNagios({kScripts + "print_env.sh"}, "5s",
                ", env: { PGPASSWORD: \"${VIGIE_TEST_AGENT_SECRET}\", LC_ALL: C.UTF-8 }");
  ASSERT_EQ(outcome.result.status, Status::Ok);
  EXPECT_TRUE(hasDetail(outcome, "PGPASSWORD=s3cret"));
  EXPECT_TRUE(hasDetail(outcome, "LC_ALL=C.UTF-8"));
  EXPECT_TRUE(hasDetail(outcome, "PATH=/usr/local/sbin"));
  // The agent's own environment stays with the agent.
  EXPECT_FALSE(hasDetail(outcome, "VIGIE_TEST_AGENT_SECRET"));
  EXPECT_FALSE(hasDetail(outcome, "HOME="));
}

TEST(NagiosProbe, PluginPastItsTimeoutGetsSigterm) {
  const auto started = Clock::now();
  const RunOutcome outcome =
      runNagios({kScripts + "sleep_past_timeout.sh"}, "1s", ", kill_grace: 400ms");
  const auto elapsed = Clock::now() - started;
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout");
  EXPECT_NE(outcome.result.message.find("SIGTERM"), std::string::npos) << outcome.result.message;
  // SIGTERM at deadline - grace (600ms), and the plugin exits at once.
  EXPECT_GE(elapsed, std::chrono::milliseconds(550));
  EXPECT_LT(elapsed, std::chrono::milliseconds(950));
}

TEST(NagiosProbe, PluginIgnoringSigtermIsKilledAtTheDeadline) {
  const auto started = Clock::now();
  const RunOutcome outcome =
      runNagios({kScripts + "ignore_sigterm.sh"}, "1s", ", kill_grace: 400ms");
  const auto elapsed = Clock::now() - started;
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout");
  EXPECT_GE(elapsed, std::chrono::milliseconds(990));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  // The killed child (and its sleep) are reaped in the background by the time the loop ends.
  EXPECT_EQ(runningProcesses(), 0u);
}

TEST(NagiosProbe, ConcurrentRunsAreCappedAndAllFinish) {
  asio::io_context io;
  std::size_t peak = 0;
  int finished = 0;
  const int runs = static_cast<int>(kMaxConcurrentProcesses) + 16;
  for (int i = 0; i < runs; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          ProcessRequest request;
          request.argv = {"/bin/sh", "-c", "sleep 0.05; echo done"};
          peak = std::max(peak, runningProcesses());
          const ProcessOutcome outcome = co_await runProcess(request);
          peak = std::max(peak, runningProcesses());
          if (outcome.end == ProcessOutcome::End::Exited && outcome.output == "done\n") {
            ++finished;
          }
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(finished, runs);
  // Runs beyond the cap waited; the cap itself was reached.
  EXPECT_EQ(peak, kMaxConcurrentProcesses);
  EXPECT_EQ(runningProcesses(), 0u);
}

TEST(NagiosConfig, MissingCommandIsAWarningAtLoad) {
  auto warnings = [](const std::string& command) {
    testing::internal::CaptureStderr();
    test::loadYaml("probes:\n  - name: n\n    type: nagios\n    nagios: { command: [" + command +
                   "] }\n");
    return testing::internal::GetCapturedStderr();
  };
  EXPECT_EQ(warnings("check_dummy"), "");
  EXPECT_EQ(warnings(kPlugins + "check_dummy"), "");
  EXPECT_NE(warnings("check_vigie_no_such_plugin")
                .find("warning: probe=n: command check_vigie_no_such_plugin is not found in "
                      "PATH=/usr/local/sbin"),
            std::string::npos);
  EXPECT_NE(warnings(kScripts + "not_executable.sh").find("is not an executable file"),
            std::string::npos);
}

TEST(NagiosConfig, CommandMustNameAProgram) {
  EXPECT_THROW(
      test::loadYaml("probes:\n  - name: n\n    type: nagios\n    nagios: { command: [] }\n"),
      ConfigError);
  EXPECT_THROW(test::loadYaml("probes:\n  - name: n\n    type: nagios\n    nagios: {}\n"),
               ConfigError);
}

}  // namespace
}  // namespace vigie
