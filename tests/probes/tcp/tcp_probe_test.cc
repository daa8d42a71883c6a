// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "daemon/single_run.h"
#include "test_certs.h"
#include "test_config.h"
#include "test_server.h"

namespace vigie {
namespace {

using test::TestTcpServer;

std::optional<double> sample(const RunOutcome& outcome, const std::string& name) {
  for (const Sample& s : outcome.result.samples) {
    if (s.name() == name) {
      return s.value;
    }
  }
  return std::nullopt;
}

RunOutcome probe(const std::string& tcp_block, const std::string& timeout = "2s") {
  return test::runSpec(test::probeFromYaml("probes:\n  - name: t\n    type: tcp\n    timeout: " +
                                           timeout + "\n    tcp: " + tcp_block + "\n"));
}

std::string at(std::uint16_t port) { return "\"127.0.0.1:" + std::to_string(port) + "\""; }

TEST(TcpProbe, ReachableTargetSucceeds) {
  TestTcpServer server({});
  const RunOutcome outcome = probe("{ address: " + at(server.port()) + " }");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_EQ(outcome.result.reason, "");
  EXPECT_EQ(sample(outcome, "probe_ip_protocol"), 4.0);
  EXPECT_TRUE(sample(outcome, "probe_dns_lookup_time_seconds").has_value());
  // The server counts the connection on its own thread, maybe just after the probe returned.
  for (int i = 0; i < 100 && server.connections() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(TcpProbe, RefusedConnectionFailsWithReasonConnect) {
  const RunOutcome outcome = probe("{ address: " + at(test::closedPort()) + " }");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "connect");
  EXPECT_NE(outcome.result.message.find("refused"), std::string::npos) << outcome.result.message;
}

TEST(TcpProbe, UnresolvableHostFailsWithReasonDns) {
  const RunOutcome outcome = probe("{ address: \"no-such-host.invalid:80\" }");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "dns");
}

TEST(TcpProbe, ExpectMatchesTheGreeting) {
  TestTcpServer server({.greeting = "220 smtp.example ESMTP ready\r\n"});
  const RunOutcome outcome =
      probe("{ address: " + at(server.port()) + ", expect: \"^220 .*ESMTP\" }");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

TEST(TcpProbe, SendThenExpectTheAnswer) {
  TestTcpServer server({.echo = true});
  const RunOutcome outcome = probe("{ address: " + at(server.port()) +
                                   ", send: \"PING 42\\n\", expect: \"PING [0-9]+\" }");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

TEST(TcpProbe, WrongAnswerFailsWithReasonExpect) {
  TestTcpServer server({.greeting = "500 go away\r\n", .close_after_greeting = true});
  const RunOutcome outcome = probe("{ address: " + at(server.port()) + ", expect: \"^220\" }");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "expect");
}

TEST(TcpProbe, SilentServerTimesOutDuringExpect) {
  TestTcpServer server({});
  const RunOutcome outcome =
      probe("{ address: " + at(server.port()) + ", expect: \"^220\" }", "300ms");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout");
  EXPECT_EQ(outcome.result.message, "timed out after 300ms during expect");
  EXPECT_LT(outcome.duration_seconds, 2.0);
}

TEST(TcpProbe, Ipv6Loopback) {
  std::unique_ptr<TestTcpServer> server;
  try {
    server = std::make_unique<TestTcpServer>(TestTcpServer::Options{.bind_address = "::1"});
  } catch (const std::system_error&) {
    GTEST_SKIP() << "no IPv6 loopback on this machine";
  }
  const RunOutcome outcome = probe("{ address: \"[::1]:" + std::to_string(server->port()) + "\" }");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  EXPECT_EQ(sample(outcome, "probe_ip_protocol"), 6.0);
}

class TcpTlsProbe : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test::makeTempDir();
    ca = test::makeCertificate(dir, "ca", {.common_name = "Vigie Test CA", .is_ca = true});
    leaf = test::makeCertificate(dir, "leaf",
                                 {.common_name = "localhost",
                                  .dns_names = {"localhost"},
                                  .ip_addresses = {"127.0.0.1"},
                                  .valid_until = std::chrono::seconds(10 * 86400)},
                                 &ca);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::string dir;
  test::CertificateFiles ca;
  test::CertificateFiles leaf;
};

TEST_F(TcpTlsProbe, TrustedCertificateSucceedsAndReportsExpiry) {
  TestTcpServer server({.tls_cert_file = leaf.cert, .tls_key_file = leaf.key});
  const RunOutcome outcome =
      probe("{ address: " + at(server.port()) + ", tls: true, tls_ca_file: \"" + ca.cert + "\" }");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
  const auto expiry = sample(outcome, "probe_ssl_earliest_cert_expiry");
  ASSERT_TRUE(expiry);
  EXPECT_NEAR(*expiry, leaf.not_after_unix, 5);
  const auto version =
      std::find_if(outcome.result.samples.begin(), outcome.result.samples.end(),
                   [](const Sample& s) { return s.name() == "probe_tls_version_info"; });
  ASSERT_NE(version, outcome.result.samples.end());
  EXPECT_EQ(version->labels, (Labels{{"version", "TLS 1.3"}}));
}

TEST_F(TcpTlsProbe, UntrustedCertificateFailsButStillReportsExpiry) {
  TestTcpServer server({.tls_cert_file = leaf.cert, .tls_key_file = leaf.key});
  // Verified against the system's CAs, which do not know the test CA.
  const RunOutcome outcome = probe("{ address: " + at(server.port()) + ", tls: true }");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "tls_verify");
  EXPECT_TRUE(sample(outcome, "probe_ssl_earliest_cert_expiry").has_value());
}

TEST_F(TcpTlsProbe, WrongHostNameFailsVerification) {
  TestTcpServer server({.tls_cert_file = leaf.cert, .tls_key_file = leaf.key});
  const RunOutcome outcome =
      probe("{ address: " + at(server.port()) + ", tls: true, tls_ca_file: \"" + ca.cert +
            "\", tls_server_name: other.example }");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "tls_verify");
  EXPECT_NE(outcome.result.message.find("other.example"), std::string::npos);
}

TEST_F(TcpTlsProbe, ExpiredCertificateFailsVerification) {
  const auto expired = test::makeCertificate(dir, "expired",
                                             {.common_name = "localhost",
                                              .ip_addresses = {"127.0.0.1"},
                                              .valid_from = std::chrono::seconds(-10 * 86400),
                                              .valid_until = std::chrono::seconds(-86400)},
                                             &ca);
  TestTcpServer server({.tls_cert_file = expired.cert, .tls_key_file = expired.key});
  const RunOutcome outcome =
      probe("{ address: " + at(server.port()) + ", tls: true, tls_ca_file: \"" + ca.cert + "\" }");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "tls_verify");
  EXPECT_NE(outcome.result.message.find("expired"), std::string::npos) << outcome.result.message;
  EXPECT_LT(*sample(outcome, "probe_ssl_earliest_cert_expiry"),
            static_cast<double>(std::time(nullptr)));
}

TEST_F(TcpTlsProbe, InsecureSkipVerifyAcceptsAnyCertificate) {
  TestTcpServer server({.tls_cert_file = leaf.cert, .tls_key_file = leaf.key});
  const RunOutcome outcome =
      probe("{ address: " + at(server.port()) + ", tls: true, tls_insecure_skip_verify: true }");
  EXPECT_EQ(outcome.result.status, Status::Ok) << outcome.result.message;
}

TEST_F(TcpTlsProbe, PlainServerFailsTheHandshake) {
  TestTcpServer server({.greeting = "hello, not TLS\r\n"});
  const RunOutcome outcome = probe("{ address: " + at(server.port()) + ", tls: true }");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "tls_handshake");
}

// A certificate that expires in 9 days and 23 hours: thresholds around that give each state, as
// check_http -C does.
TEST_F(TcpTlsProbe, ExpiryThresholdsGiveWarningThenCritical) {
  const auto expiring =
      test::makeCertificate(dir, "expiring",
                            {.common_name = "localhost",
                             .ip_addresses = {"127.0.0.1"},
                             .valid_until = std::chrono::seconds(10 * 86400 - 3600)},
                            &ca);
  TestTcpServer server({.tls_cert_file = expiring.cert, .tls_key_file = expiring.key});
  auto withThresholds = [&](const std::string& warning, const std::string& critical) {
    return probe("{ address: " + at(server.port()) + ", tls: true, tls_ca_file: \"" + ca.cert +
                 "\", tls_expiry_warning: " + warning + ", tls_expiry_critical: " + critical +
                 " }");
  };
  const RunOutcome ok = withThresholds("5d", "2d");
  EXPECT_EQ(ok.result.status, Status::Ok) << ok.result.message;

  const RunOutcome warning = withThresholds("21d", "7d");
  EXPECT_EQ(warning.result.status, Status::Warning) << warning.result.message;
  EXPECT_EQ(warning.result.reason, "tls_expiry");
  EXPECT_NE(warning.result.message.find("certificate /CN=localhost expires in 9 days ("),
            std::string::npos)
      << warning.result.message;
  EXPECT_NE(warning.result.message.find("), warning threshold 21d"), std::string::npos)
      << warning.result.message;
  // The certificate data stays reported whatever the state.
  EXPECT_TRUE(sample(warning, "probe_ssl_earliest_cert_expiry").has_value());

  const RunOutcome critical = withThresholds("21d", "14d");
  EXPECT_EQ(critical.result.status, Status::Critical) << critical.result.message;
  EXPECT_EQ(critical.result.reason, "tls_expiry");
  EXPECT_NE(critical.result.message.find("critical threshold 14d"), std::string::npos)
      << critical.result.message;
}

TEST_F(TcpTlsProbe, ExpiredCertificateIsCriticalForTheThresholdsEvenUnverified) {
  const auto expired = test::makeCertificate(dir, "expired",
                                             {.common_name = "old.example",
                                              .ip_addresses = {"127.0.0.1"},
                                              .valid_from = std::chrono::seconds(-10 * 86400),
                                              .valid_until = std::chrono::seconds(-2 * 86400 - 60)},
                                             &ca);
  TestTcpServer server({.tls_cert_file = expired.cert, .tls_key_file = expired.key});
  const std::string block =
      "{ address: " + at(server.port()) + ", tls: true, tls_insecure_skip_verify: true";
  EXPECT_EQ(probe(block + " }").result.status, Status::Ok);
  const RunOutcome outcome = probe(block + ", tls_expiry_critical: 7d }");
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "tls_expiry");
  EXPECT_NE(outcome.result.message.find("certificate /CN=old.example expired 2 days ago ("),
            std::string::npos)
      << outcome.result.message;
}

TEST(TcpConfig, ExpiryThresholdsAreCheckedAtLoad) {
  auto load = [](const std::string& block) {
    return test::loadYaml("probes:\n  - name: t\n    type: tcp\n    tcp: " + block + "\n");
  };
  EXPECT_NO_THROW(load("{ address: \"h:443\", tls: true, tls_expiry_warning: 21d }"));
  EXPECT_THROW(load("{ address: \"h:443\", tls_expiry_warning: 21d }"), ConfigError);
  EXPECT_THROW(load("{ address: \"h:443\", tls: true, tls_expiry_warning: 7d, "
                    "tls_expiry_critical: 21d }"),
               ConfigError);
}

TEST(SingleRun, NagiosLineCarriesStatusReasonAndPerfdata) {
  ProbeSpec spec;
  spec.name = "front";
  RunOutcome outcome;
  outcome.result = ProbeResult::critical("connect", "connect to x:1 failed: Connection refused");
  outcome.result.samples.push_back({families::ipProtocol(), 4});
  outcome.result.samples.push_back({families::sslEarliestCertExpiry(), 1796783782.5});
  outcome.result.details.push_back("resolved in 0.1ms");
  outcome.duration_seconds = 0.5;
  EXPECT_EQ(formatNagios(spec, outcome),
            "CRITICAL - front: connect to x:1 failed: Connection refused (reason: connect) | "
            "duration=0.5s;;;0 probe_ip_protocol=4 probe_ssl_earliest_cert_expiry=1796783782.5\n"
            "resolved in 0.1ms\n");
}

}  // namespace
}  // namespace vigie
