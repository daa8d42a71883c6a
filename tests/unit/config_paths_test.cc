// SPDX-License-Identifier: Apache-2.0
// Relative file names resolve against the file that names them, and `--probe NAME` reads only
// that probe.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/loader.h"
#include "test_certs.h"
#include "test_config.h"
#include "test_server.h"

namespace vigie {
namespace {

namespace fs = std::filesystem;

// A probe type with a secret, to see what `password_file` read.
class SecretProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "secretive"; }
  const ConfigSchema& schema() const override {
    static const ConfigSchema schema{{"password", FieldType::Secret, true, {}, "a secret"}};
    return schema;
  }
  ProbePtr create(const ProbeConfig& config) const override {
    last_password = config.getString("password");
    return nullptr;
  }
  mutable std::string last_password;
};

TEST(ConfigPaths, SecretFileInAnIncludedFileIsNextToThatFile) {
  ProbeRegistry registry;
  auto factory = std::make_unique<SecretProbeFactory>();
  SecretProbeFactory* secrets = factory.get();
  registry.add(std::move(factory));
  const std::string dir = test::makeTempDir();
  fs::create_directories(dir + "/probes.d");
  std::ofstream(dir + "/pw") << "main-folder\n";
  std::ofstream(dir + "/probes.d/pw") << "probes-folder\n";
  std::ofstream(dir + "/vigie.yaml") << "include: [\"probes.d/*.yaml\"]\n";
  std::ofstream(dir + "/probes.d/app.yaml")
      << "probes:\n  - { name: a, type: secretive, secretive: { password_file: pw } }\n";
  loadConfig(dir + "/vigie.yaml", registry);
  EXPECT_EQ(secrets->last_password, "probes-folder");
  fs::remove_all(dir);
}

TEST(ConfigPaths, TlsCaFileInAnIncludedFileIsNextToThatFile) {
  const std::string dir = test::makeTempDir();
  fs::create_directories(dir + "/probes.d/certs");
  const auto ca = test::makeCertificate(dir + "/probes.d/certs", "ca",
                                        {.common_name = "Vigie Test CA", .is_ca = true});
  const auto leaf = test::makeCertificate(
      dir, "leaf", {.common_name = "localhost", .ip_addresses = {"127.0.0.1"}}, &ca);
  test::TestTcpServer server({.tls_cert_file = leaf.cert, .tls_key_file = leaf.key});
  std::ofstream(dir + "/vigie.yaml") << "include: [\"probes.d/*.yaml\"]\n";
  std::ofstream(dir + "/probes.d/app.yaml")
      << "probes:\n  - { name: t, type: tcp, tcp: { address: \"127.0.0.1:" << server.port()
      << "\", tls: true, tls_ca_file: certs/ca.crt } }\n";
  const LoadedConfig loaded = loadConfig(dir + "/vigie.yaml");
  ASSERT_EQ(loaded.config.probes.size(), 1u);
  const RunOutcome outcome = test::runSpec(loaded.config.probes[0]);
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  fs::remove_all(dir);
}

TEST(ConfigPaths, ForwardingCaFileIsNextToTheConfigFile) {
  const std::string dir = test::makeTempDir();
  std::ofstream(dir + "/vigie.yaml")
      << "forwarding:\n  webhook:\n    - { name: w, url: \"https://hooks.example/x\", "
         "tls_ca_file: ca.crt }\n";
  const LoadedConfig loaded = loadConfig(dir + "/vigie.yaml");
  ASSERT_EQ(loaded.config.forwarding.destinations.size(), 1u);
  const auto* target =
      dynamic_cast<const HttpTarget*>(loaded.config.forwarding.destinations[0].get());
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->tls_ca_file, dir + "/ca.crt");
  fs::remove_all(dir);
}

TEST(ConfigPaths, SingleProbeNeedsOnlyItsOwnEnvironment) {
  ::unsetenv("VIGIE_TEST_UNSET_PASSWORD");
  ::unsetenv("VIGIE_TEST_UNSET_TOKEN");
  const std::string dir = test::makeTempDir();
  std::ofstream(dir + "/vigie.yaml")
      << "forwarding:\n  webhook:\n    - { name: w, url: \"https://hooks.example/x\", "
         "password: \"${VIGIE_TEST_UNSET_TOKEN}\", username: u }\n"
         "probes:\n"
         "  - { name: db, type: nagios, nagios: { command: [/bin/true], "
         "env: { PGPASSWORD: \"${VIGIE_TEST_UNSET_PASSWORD}\" } } }\n"
         "  - { name: es, type: tcp, tcp: { address: \"127.0.0.1:9200\" } }\n";
  // The daemon and --check-config report every unset variable...
  try {
    loadConfig(dir + "/vigie.yaml");
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.issues().size(), 2u) << e.what();
  }
  // ...while --probe es needs none of them, and --probe db needs its own.
  const LoadedConfig es = loadConfig(dir + "/vigie.yaml", "es");
  ASSERT_EQ(es.config.probes.size(), 1u);
  EXPECT_EQ(es.config.probes[0].name, "es");
  try {
    loadConfig(dir + "/vigie.yaml", "db");
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u) << e.what();
    EXPECT_NE(e.issues()[0].message.find("VIGIE_TEST_UNSET_PASSWORD"), std::string::npos);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigie
