// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/loader.h"
#include "test_certs.h"
#include "test_config.h"

namespace vigie {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// Each tests/data/config/invalid/NAME.yaml must fail with exactly NAME.err, where FILE stands
// for the file's path.
TEST(ConfigGolden, EveryInvalidConfigFailsWithItsExactMessage) {
  ProbeRegistry registry;
  registerBuiltinProbes(registry);
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(VIGIE_TEST_DATA_DIR "/config/invalid")) {
    if (entry.path().extension() != ".yaml") {
      continue;
    }
    const fs::path golden = fs::path(entry.path()).replace_extension(".err");
    ASSERT_TRUE(fs::exists(golden)) << "no golden for " << entry.path();
    const std::string expected = replaceAll(readFile(golden), "FILE", entry.path().string());
    try {
      loadConfig(entry.path().string(), registry);
      ADD_FAILURE() << entry.path() << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()) + "\n", expected) << entry.path();
    }
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST(Config, BundledDefaultConfigIsValid) {
  ProbeRegistry registry;
  registerBuiltinProbes(registry);
  const AgentConfig config = loadConfig(VIGIE_SOURCE_DIR "/config/vigie.yaml", registry);
  ASSERT_EQ(config.probes.size(), 1u);
  EXPECT_EQ(config.probes[0].name, "vigie-self");
  EXPECT_EQ(config.agent.listen_port, 9465);
  EXPECT_EQ(config.probes[0].interval, std::chrono::seconds(15));
}

TEST(Config, DefaultsApplyAndProbeValuesOverride) {
  const AgentConfig config = test::loadYaml(R"(
agent: { name: sonde01, listen: "[::1]:0" }
defaults: { interval: 1m, timeout: 20s }
probes:
  - { name: a, type: tcp, tcp: { address: "127.0.0.1:1" } }
  - { name: b, type: tcp, interval: 10s, timeout: 2s, labels: { app: SLO },
      tcp: { address: "127.0.0.1:2" } }
)");
  EXPECT_EQ(config.agent.name, "sonde01");
  EXPECT_EQ(config.agent.listen_host, "::1");
  EXPECT_EQ(config.agent.listen_port, 0);
  ASSERT_EQ(config.probes.size(), 2u);
  EXPECT_EQ(config.probes[0].interval, std::chrono::minutes(1));
  EXPECT_EQ(config.probes[0].timeout, std::chrono::seconds(20));
  EXPECT_EQ(config.probes[1].interval, std::chrono::seconds(10));
  EXPECT_EQ(config.probes[1].labels, (Labels{{"app", "SLO"}}));
}

TEST(Config, IncludesAreGlobbedRelativeToTheMainFile) {
  const std::string dir = test::makeTempDir();
  fs::create_directories(dir + "/probes.d");
  std::ofstream(dir + "/vigie.yaml") << "include: [\"probes.d/*.yaml\"]\nprobes: []\n";
  std::ofstream(dir + "/probes.d/a.yaml")
      << "probes:\n  - { name: a, type: tcp, tcp: { address: \"127.0.0.1:1\" } }\n";
  std::ofstream(dir + "/probes.d/b.yaml")
      << "probes:\n  - { name: b, type: tcp, tcp: { address: \"127.0.0.1:2\" } }\n";
  std::ofstream(dir + "/probes.d/ignored.yaml.sample") << "not: [valid";
  ProbeRegistry registry;
  registerBuiltinProbes(registry);
  const AgentConfig config = loadConfig(dir + "/vigie.yaml", registry);
  ASSERT_EQ(config.probes.size(), 2u);
  EXPECT_EQ(config.probes[0].name, "a");
  EXPECT_EQ(config.probes[1].name, "b");

  // An error in an included file names that file.
  std::ofstream(dir + "/probes.d/c.yaml") << "probes:\n  - { name: c, type: tcp }\n";
  try {
    loadConfig(dir + "/vigie.yaml", registry);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u);
    EXPECT_EQ(e.issues()[0].where.file, dir + "/probes.d/c.yaml");
    EXPECT_EQ(e.issues()[0].where.line, 2);
  }
  fs::remove_all(dir);
}

// A probe type with a secret, to check `${ENV}`, `<key>_file` and fingerprints.
class SecretProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "secretive"; }
  const ConfigSchema& schema() const override {
    static const ConfigSchema schema{{"password", FieldType::Secret, true, {}, "a secret"}};
    return schema;
  }
  ProbePtr create(const ProbeConfig& config) const override {
    last_password = config.getString("password");
    last_fingerprint = config.fingerprint();
    return nullptr;
  }
  mutable std::string last_password;
  mutable std::string last_fingerprint;
};

TEST(Config, SecretsComeFromFilesOrEnvironmentAndChangeTheFingerprint) {
  ProbeRegistry registry;
  auto factory = std::make_unique<SecretProbeFactory>();
  SecretProbeFactory* secrets = factory.get();
  registry.add(std::move(factory));
  const std::string dir = test::makeTempDir();
  std::ofstream(dir + "/pw") << "s3cret\n";
  std::ofstream(dir + "/a.yaml")
      << "probes:\n  - { name: a, type: secretive, secretive: { password_file: pw } }\n";
  loadConfig(dir + "/a.yaml", registry);
  EXPECT_EQ(secrets->last_password, "s3cret");
  const std::string first = secrets->last_fingerprint;
  std::ofstream(dir + "/pw") << "rotated\n";
  loadConfig(dir + "/a.yaml", registry);
  EXPECT_NE(secrets->last_fingerprint, first);

  setenv("VIGIE_TEST_PASSWORD", "from-env", 1);
  std::ofstream(dir + "/b.yaml") << "probes:\n  - { name: b, type: secretive, secretive: "
                                    "{ password: \"${VIGIE_TEST_PASSWORD}\" } }\n";
  loadConfig(dir + "/b.yaml", registry);
  EXPECT_EQ(secrets->last_password, "from-env");

  std::ofstream(dir + "/c.yaml") << "probes:\n  - { name: c, type: secretive, secretive: "
                                    "{ password: x, password_file: pw } }\n";
  try {
    loadConfig(dir + "/c.yaml", registry);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("set either password or password_file, not both"),
              std::string::npos);
    // The secret's value is never part of an error message.
    EXPECT_EQ(std::string(e.what()).find("rotated"), std::string::npos);
  }
  std::ofstream(dir + "/d.yaml") << "probes:\n  - { name: d, type: secretive, secretive: "
                                    "{ password_file: /nonexistent/pw } }\n";
  try {
    loadConfig(dir + "/d.yaml", registry);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("d.yaml:2:"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cannot read /nonexistent/pw"), std::string::npos);
  }
  fs::remove_all(dir);
}

TEST(Config, EveryErrorIsReportedNotJustTheFirst) {
  try {
    test::loadYaml(R"(
probes:
  - { name: a, type: tcp, tcp: { address: nope } }
  - { name: b, type: tcp, interval: 5 }
  - { name: c, type: nosuch }
)");
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    // b's missing tcp block is found in the same pass as its bad interval (finding 7).
    ASSERT_EQ(e.issues().size(), 4u);
    EXPECT_EQ(e.issues()[0].key_path, "probes[a].tcp.address");
    EXPECT_EQ(e.issues()[1].key_path, "probes[b].interval");
    EXPECT_EQ(e.issues()[2].key_path, "probes[b].tcp.address");
    EXPECT_EQ(e.issues()[3].key_path, "probes[c].type");
  }
}

// Finding 6: the documented labels (app, environment, hosting_center, ci) are what events read;
// a near miss is accepted with a warning that names the right one, and the samples use them.
TEST(Config, NearMissesOfTheConventionalLabelsAreWarned) {
  const AgentConfig config = test::loadYaml(R"(
probes:
  - name: a
    type: tcp
    labels: { env: prod, Application: portail, datacenter: dc1, ci: PORTAIL }
    tcp: { address: "127.0.0.1:1" }
  - name: b
    type: tcp
    labels: { app: portail, environment: production, hosting_center: dc1, ci: PORTAIL }
    tcp: { address: "127.0.0.1:1" }
)");
  std::vector<std::string> paths;
  for (const ConfigIssue& warning : config.warnings) {
    paths.push_back(warning.key_path + " -> " +
                    warning.message.substr(0, warning.message.find('?')));
  }
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "probes[a].labels.env -> did you mean 'environment'",
                       "probes[a].labels.Application -> did you mean 'app'",
                       "probes[a].labels.datacenter -> did you mean 'hosting_center'",
                   }));
  ProbeRegistry registry;
  registerBuiltinProbes(registry);
  EXPECT_TRUE(loadConfig(VIGIE_SOURCE_DIR "/config/vigie.yaml", registry).warnings.empty());
}

TEST(Registry, RefusesDuplicateTypeNames) {
  ProbeRegistry registry;
  registerBuiltinProbes(registry);
  EXPECT_NE(registry.find("tcp"), nullptr);
  EXPECT_EQ(registry.find("nope"), nullptr);
  ProbeRegistry again;
  registerBuiltinProbes(again);
  EXPECT_THROW(registerBuiltinProbes(again), std::invalid_argument);
}

}  // namespace
}  // namespace vigie
