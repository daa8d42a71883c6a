// SPDX-License-Identifier: Apache-2.0
// Native plugins through the real loader (dlopen), registry, config loader and runner.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "config/loader.h"
#include "plugins/c_abi_probe.h"
#include "plugins/plugin_loader.h"
#include "test_certs.h"
#include "test_config.h"

namespace vigie {
namespace {

using Clock = std::chrono::steady_clock;

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::makeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& yaml) {
    const std::string path = dir_ + "/vigie.yaml";
    std::ofstream(path) << yaml;
    return path;
  }

  LoadedConfig load(const std::string& yaml) { return loadConfig(write(yaml)); }

  /// The config errors of `yaml`, one per line.
  std::string errors(const std::string& yaml) {
    try {
      load(yaml);
    } catch (const ConfigError& e) {
      std::string text;
      for (const ConfigIssue& issue : e.issues()) {
        text += issue.format() + "\n";
      }
      return text;
    }
    return "";
  }

  static std::string misbehaving(const std::string& mode, const std::string& timeout = "2s") {
    return "agent: { plugin_dirs: [\"" VIGIE_PLUGIN_MISBEHAVING_DIR
           "\"] }\n"
           "probes:\n  - name: m\n    type: misbehaving\n    timeout: " +
           timeout + "\n    misbehaving: { mode: " + mode + " }\n";
  }

  std::string dir_;
};

TEST_F(PluginTest, ExamplePluginLoadsValidatesAndRuns) {
  const std::string watched = dir_ + "/backup.tar";
  std::ofstream(watched) << "data";
  const LoadedConfig loaded = load("agent: { plugin_dirs: [\"" VIGIE_PLUGIN_EXAMPLE_DIR
                                   "\"] }\n"
                                   "probes:\n"
                                   "  - name: fresh\n    type: file_age\n"
                                   "    file_age: { path: \"" +
                                   watched +
                                   "\", max_age: 1h }\n"
                                   "  - name: gone\n    type: file_age\n"
                                   "    file_age: { path: \"" +
                                   dir_ + "/missing\" }\n");
  ASSERT_EQ(loaded.config.probes.size(), 2u);
  const RunOutcome fresh = test::runSpec(loaded.config.probes[0]);
  EXPECT_EQ(fresh.result.status, Status::Ok) << fresh.result.message;
  ASSERT_EQ(fresh.result.samples.size(), 1u);
  EXPECT_EQ(fresh.result.samples[0].name(), "file_age_seconds");
  EXPECT_EQ(fresh.result.samples[0].family->help, "Seconds since the file was last modified");
  // The type declared its family once, at registration; the sample points at that declaration.
  const Families& declared = loaded.registry->find("file_age")->families();
  ASSERT_EQ(declared.size(), 1u);
  EXPECT_EQ(fresh.result.samples[0].family, declared[0]);
  EXPECT_LT(fresh.result.samples[0].value, 60);
  const RunOutcome gone = test::runSpec(loaded.config.probes[1]);
  EXPECT_EQ(gone.result.status, Status::Critical);
  EXPECT_EQ(gone.result.reason, "missing");
}

TEST_F(PluginTest, PluginSchemaErrorsAreConfigErrors) {
  const std::string head = "agent: { plugin_dirs: [\"" VIGIE_PLUGIN_EXAMPLE_DIR
                           "\"] }\n"
                           "probes:\n  - name: f\n    type: file_age\n";
  EXPECT_NE(errors(head + "    file_age: { path: /x, max_agee: 1h }\n")
                .find("probes[f].file_age.max_agee: unknown key (did you mean 'max_age'?)"),
            std::string::npos);
  EXPECT_NE(errors(head + "    file_age: { max_age: 1h }\n")
                .find("probes[f].file_age.path: required field is missing"),
            std::string::npos);
  EXPECT_NE(errors(head + "    file_age: { path: /x, max_age: soon }\n").find("invalid duration"),
            std::string::npos);
  // The plugin's own check, reported like any other config error.
  EXPECT_NE(errors(head + "    file_age: { path: relative }\n")
                .find("probes[f].file_age: plugin " VIGIE_PLUGIN_EXAMPLE_DIR
                      "/file_age.so rejected the probe: path must be absolute"),
            std::string::npos);
}

TEST_F(PluginTest, ConfigsWithoutPluginDirsGetTheBuiltinTypes) {
  for (const char* yaml : {"agent: { name: a }\nprobes: []\n", "probes: []\n"}) {
    const auto registry = loadConfig(write(yaml)).registry;
    EXPECT_NE(registry->find("nagios"), nullptr) << yaml;
    EXPECT_EQ(registry->find("file_age"), nullptr) << yaml;
  }
}

TEST_F(PluginTest, WrongAbiMajorIsRefused) {
  const std::string text = errors("agent: { plugin_dirs: [\"" VIGIE_PLUGIN_WRONG_ABI_DIR "\"] }\n");
  EXPECT_NE(text.find("agent.plugin_dirs: plugin " VIGIE_PLUGIN_WRONG_ABI_DIR
                      "/wrong_abi.so refused: it was built for plugin ABI 99.0, this agent "
                      "speaks 2.0"),
            std::string::npos)
      << text;
}

TEST_F(PluginTest, PluginBuiltForAbiV1IsRefusedAsSuch) {
  // Its entry point, like the v1 SDK's, answers only an agent of ABI 1.
  const std::string text = errors("agent: { plugin_dirs: [\"" VIGIE_PLUGIN_ABI_V1_DIR "\"] }\n");
  EXPECT_NE(text.find("abi_v1.so refused: it was built for plugin ABI 1.0, this agent speaks "
                      "2.0 (rebuild it against this agent's SDK; docs/PLUGINS.md says what "
                      "changed)"),
            std::string::npos)
      << text;
}

TEST_F(PluginTest, FamilyDeclaredWithAnotherHelpThanABuiltinTypeIsRefused) {
  const std::string text =
      errors("agent: { plugin_dirs: [\"" VIGIE_PLUGIN_FAMILY_CLASH_DIR "\"] }\n");
  EXPECT_NE(text.find("family_clash.so refused: probe type 'misbehaving' declares metric family "
                      "'probe_ip_protocol' as gauge \"Not the help the built-in types declared\", "
                      "but 'dns' declared it as gauge \"" +
                      families::ipProtocol()->help + "\""),
            std::string::npos)
      << text;
}

TEST_F(PluginTest, LibraryWithoutTheEntrySymbolIsSkippedUnloaded) {
  // A folder may hold other libraries (a system folder named by mistake): they are skipped with
  // a warning naming them, without being dlopen'ed, instead of failing the configuration.
  testing::internal::CaptureStderr();
  const std::string text = errors("agent: { plugin_dirs: [\"" VIGIE_PLUGIN_NO_ENTRY_DIR "\"] }\n");
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(text, "");
  EXPECT_NE(log.find("skipped " VIGIE_PLUGIN_NO_ENTRY_DIR
                     "/no_entry.so, which does not export vigie_plugin_entry (not a Vigie plugin)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("loaded plugin"), std::string::npos) << log;
}

TEST_F(PluginTest, WorldWritableFolderIsRefused) {
  const std::string folder = dir_ + "/plugins";
  std::filesystem::create_directories(folder);
  std::filesystem::copy_file(VIGIE_PLUGIN_EXAMPLE_DIR "/file_age.so", folder + "/file_age.so");
  std::filesystem::permissions(folder, std::filesystem::perms::others_write,
                               std::filesystem::perm_options::add);
  const std::string text = errors("agent: { plugin_dirs: [plugins] }\n");
  EXPECT_NE(text.find("agent.plugin_dirs: plugin directory " + folder +
                      " is writable by every user: refused (chmod o-w it)"),
            std::string::npos)
      << text;
  std::filesystem::permissions(folder, std::filesystem::perms::others_write,
                               std::filesystem::perm_options::remove);
  EXPECT_EQ(errors("agent: { plugin_dirs: [plugins] }\n"), "");
}

TEST_F(PluginTest, FolderOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to give the folder away";
  }
  const std::string folder = dir_ + "/plugins";
  std::filesystem::create_directories(folder);
  ASSERT_EQ(::chown(folder.c_str(), 12345, 12345), 0);
  const std::string text = errors("agent: { plugin_dirs: [plugins] }\n");
  EXPECT_NE(text.find("plugin directory " + folder +
                      " is owned by uid 12345, neither root nor the agent's user"),
            std::string::npos)
      << text;
}

TEST_F(PluginTest, DuplicateTypeNameIsRefused) {
  const std::string text = errors("agent: { plugin_dirs: [\"" VIGIE_PLUGIN_MISBEHAVING_DIR
                                  "\", \"" VIGIE_PLUGIN_MISBEHAVING_DIR "\"] }\n");
  EXPECT_NE(text.find("probe type 'misbehaving' is already registered"), std::string::npos) << text;
}

TEST_F(PluginTest, NotALibraryIsSkippedAndAMissingFolderRefused) {
  std::filesystem::create_directories(dir_ + "/plugins");
  std::ofstream(dir_ + "/plugins/junk.so") << "not an ELF file";
  testing::internal::CaptureStderr();
  const std::string text = errors("agent: { plugin_dirs: [plugins, nowhere] }\n");
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("skipped " + dir_ + "/plugins/junk.so"), std::string::npos) << log;
  EXPECT_EQ(text.find("junk.so"), std::string::npos) << text;
  EXPECT_NE(text.find("cannot list plugin directory"), std::string::npos) << text;
}

TEST_F(PluginTest, NeverCompletingPluginTimesOut) {
  const LoadedConfig loaded = load(misbehaving("never", "200ms"));
  const auto started = Clock::now();
  const RunOutcome outcome = test::runSpec(loaded.config.probes[0]);
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout");
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(1));
}

TEST_F(PluginTest, SecondCompletionIsIgnored) {
  const LoadedConfig loaded = load(misbehaving("twice"));
  const std::size_t ignored_before = plugins::ignoredPluginCompletions();
  const RunOutcome outcome = test::runSpec(loaded.config.probes[0]);
  EXPECT_EQ(outcome.result.status, Status::Ok);
  EXPECT_EQ(outcome.result.message, "first completion");
  // Both completions happen on the plugin's thread, one right after the other.
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (plugins::ignoredPluginCompletions() == ignored_before && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(plugins::ignoredPluginCompletions(), ignored_before + 1);
}

TEST_F(PluginTest, CompletionAfterTheTimeoutIsIgnored) {
  const LoadedConfig loaded = load(misbehaving("late", "200ms"));
  const std::size_t ignored_before = plugins::ignoredPluginCompletions();
  const RunOutcome outcome = test::runSpec(loaded.config.probes[0]);
  EXPECT_EQ(outcome.result.reason, "timeout");
  const auto until = Clock::now() + std::chrono::seconds(3);
  while (plugins::ignoredPluginCompletions() == ignored_before && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(plugins::ignoredPluginCompletions(), ignored_before + 1);
}

TEST_F(PluginTest, GarbageResultIsMadeSafe) {
  const LoadedConfig loaded = load(misbehaving("garbage"));
  const RunOutcome outcome = test::runSpec(loaded.config.probes[0]);
  EXPECT_EQ(outcome.result.status, Status::Unknown);
  EXPECT_EQ(outcome.result.reason, "plugin_error");
  EXPECT_NE(outcome.result.message.find("invalid status 7"), std::string::npos);
  EXPECT_NE(outcome.result.message.find("\xEF\xBF\xBD"), std::string::npos);
  ASSERT_EQ(outcome.result.samples.size(), 1u);
  EXPECT_EQ(outcome.result.samples[0].name(), "nan_value");
  EXPECT_TRUE(std::isnan(outcome.result.samples[0].value));
  ASSERT_EQ(outcome.result.details.size(), 1u);
  // One sample names a family the type never declared, one uses the reserved label "probe".
  EXPECT_EQ(outcome.result.details[0],
            "2 samples dropped: undeclared family or invalid label name");
}

TEST_F(PluginTest, NullResultAndFailedStartAreUnknown) {
  for (const char* mode : {"null_result", "start_fails"}) {
    const LoadedConfig loaded = load(misbehaving(mode));
    const RunOutcome outcome = test::runSpec(loaded.config.probes[0]);
    EXPECT_EQ(outcome.result.status, Status::Unknown) << mode;
    EXPECT_EQ(outcome.result.reason, "plugin_error") << mode;
  }
}

TEST_F(PluginTest, ExceptionsStopAtTheCBoundary) {
  const std::string head = "agent: { plugin_dirs: [\"" VIGIE_PLUGIN_THROWING_DIR
                           "\"] }\n"
                           "probes:\n  - name: t\n    type: throwing\n";
  const LoadedConfig loaded = load(head);
  const RunOutcome outcome = test::runSpec(loaded.config.probes[0]);
  EXPECT_EQ(outcome.result.status, Status::Unknown);
  EXPECT_EQ(outcome.result.reason, "plugin_error");
  EXPECT_EQ(outcome.result.message, "exception in start: boom inside start");
  EXPECT_NE(errors(head + "    throwing: { reject: true }\n")
                .find("rejected the probe: this probe rejects every config"),
            std::string::npos);
}

}  // namespace
}  // namespace vigie
