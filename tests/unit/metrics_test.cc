// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "vigie/registry.h"

namespace vigie {
namespace {

ProbeSpec spec(const std::string& name, const std::string& fingerprint) {
  ProbeSpec s;
  s.name = name;
  s.type = "tcp";
  s.labels = {{"app", "SLO"}};
  s.fingerprint = fingerprint;
  return s;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(Metrics, RenderedFromTheStateAtScrapeTime) {
  StateStore store;
  SelfMetrics self;
  store.configure({spec("up", "1"), spec("down", "1"), spec("fresh", "1")});
  ProbeResult ok = ProbeResult::ok("fine");
  ok.samples.push_back({families::ipProtocol(), 6});
  store.record("up", ok, 0.25, std::chrono::system_clock::time_point(std::chrono::seconds(1000)));
  store.record("down", ProbeResult::critical("connect", "refused"), 0.5,
               std::chrono::system_clock::now());
  const std::string text = renderMetrics(store, self);
  EXPECT_TRUE(contains(text, "probe_success{probe=\"up\",type=\"tcp\",app=\"SLO\"} 1\n"));
  EXPECT_TRUE(contains(text, "probe_success{probe=\"down\",type=\"tcp\",app=\"SLO\"} 0\n"));
  EXPECT_TRUE(
      contains(text, "probe_duration_seconds{probe=\"up\",type=\"tcp\",app=\"SLO\"} 0.25\n"));
  EXPECT_TRUE(contains(text, "probe_ip_protocol{probe=\"up\",type=\"tcp\",app=\"SLO\"} 6\n"));
  EXPECT_TRUE(contains(
      text,
      "vigie_probe_failure_info{probe=\"down\",type=\"tcp\",app=\"SLO\",reason=\"connect\"} 1\n"));
  EXPECT_TRUE(contains(
      text,
      "vigie_probe_runs_total{probe=\"down\",type=\"tcp\",app=\"SLO\",result=\"critical\"} 1\n"));
  EXPECT_TRUE(contains(
      text,
      "vigie_probe_last_run_timestamp_seconds{probe=\"up\",type=\"tcp\",app=\"SLO\"} 1000\n"));
  // A probe that has not run yet has no probe_success (no fake value), but is counted.
  EXPECT_FALSE(contains(text, "probe_success{probe=\"fresh\""));
  EXPECT_TRUE(contains(
      text, "vigie_probe_runs_total{probe=\"fresh\",type=\"tcp\",app=\"SLO\",result=\"ok\"} 0\n"));
  EXPECT_TRUE(contains(text, "vigie_build_info{"));
  EXPECT_TRUE(contains(text, "# TYPE vigie_scheduler_lateness_seconds histogram"));
}

TEST(Metrics, ReloadKeepsUnchangedStateAndDropsRemovedSeries) {
  StateStore store;
  SelfMetrics self;
  store.configure({spec("kept", "1"), spec("changed", "1"), spec("removed", "1")});
  for (const char* name : {"kept", "changed", "removed"}) {
    store.record(name, ProbeResult::ok("fine"), 0.1, std::chrono::system_clock::now());
  }
  store.configure({spec("kept", "1"), spec("changed", "2"), spec("added", "1")});
  ASSERT_NE(store.find("kept"), nullptr);
  EXPECT_TRUE(store.find("kept")->last_result.has_value());
  EXPECT_EQ(store.find("kept")->runs[0], 1u);
  ASSERT_NE(store.find("changed"), nullptr);
  EXPECT_FALSE(store.find("changed")->last_result.has_value());
  EXPECT_EQ(store.find("removed"), nullptr);
  const std::string text = renderMetrics(store, self);
  EXPECT_FALSE(contains(text, "probe=\"removed\""));
  EXPECT_TRUE(contains(text, "probe=\"added\""));
}

TEST(Metrics, SelfMetricsTrackReloads) {
  StateStore store;
  SelfMetrics self;
  self.configReloaded(true, std::chrono::system_clock::time_point(std::chrono::seconds(500)));
  self.configReloaded(false, std::chrono::system_clock::time_point(std::chrono::seconds(900)));
  self.setProbesConfigured(7);
  const std::string text = renderMetrics(store, self);
  EXPECT_TRUE(contains(text, "vigie_config_last_reload_successful 0\n"));
  EXPECT_TRUE(contains(text, "vigie_config_last_reload_success_timestamp_seconds 500\n"));
  EXPECT_TRUE(contains(text, "vigie_probes_configured 7\n"));
}

}  // namespace
}  // namespace vigie

namespace vigie {
namespace {

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  StateStore store;
  SelfMetrics self;
  ProbeSpec odd = spec("odd", "1");
  odd.labels = {{"app", "say \"hi\"\\\nbye"}};
  store.configure({odd});
  ProbeResult result = ProbeResult::critical("connect", "refused");
  result.samples.push_back(
      {declareFamily("probe_custom", "line one\nline two \\"), 0.5, {{"path", "/a\"b"}}});
  store.record("odd", result, 1e-7, std::chrono::system_clock::now());
  const std::string text = renderMetrics(store, self);
  EXPECT_TRUE(contains(
      text, "probe_success{probe=\"odd\",type=\"tcp\",app=\"say \\\"hi\\\"\\\\\\nbye\"} 0\n"));
  EXPECT_TRUE(contains(text, "# HELP probe_custom line one\\nline two \\\\\n"));
  EXPECT_TRUE(contains(text, ",path=\"/a\\\"b\"} 0.5\n"));
  EXPECT_TRUE(contains(text,
                       "probe_duration_seconds{probe=\"odd\",type=\"tcp\",app=\"say "
                       "\\\"hi\\\"\\\\\\nbye\"} 1e-07\n"));
}

}  // namespace
}  // namespace vigie

namespace vigie {
namespace {

TEST(StateStore, KeepsResultsWithoutTheirDetails) {
  StateStore store;
  store.configure({spec("p", "1")});
  ProbeResult result = ProbeResult::ok("fine");
  result.details = {"resolved in 0.1ms", "certificate: CN=x"};
  result.samples.push_back({families::ipProtocol(), 4});
  store.record("p", result, 0.1, std::chrono::system_clock::now());
  ASSERT_TRUE(store.find("p")->last_result);
  EXPECT_EQ(store.find("p")->last_result->sampleCount(), 1u);
  EXPECT_EQ(store.find("p")->last_result->key(0).name(), "probe_ip_protocol");
  EXPECT_EQ(store.find("p")->last_result->values[0], 4);
  EXPECT_EQ(store.find("p")->last_result->message, "fine");
}

TEST(StateStore, ProbesWithTheSameSampleKeysShareOneLayout) {
  StateStore store;
  store.configure({spec("a", "1"), spec("b", "1"), spec("c", "1")});
  const FamilyHandle duration = declareFamily("probe_http_duration_seconds", "by phase");
  const FamilyHandle status_code = declareFamily("probe_http_status_code", "status");
  auto result = [&](double value, const std::string& phase) {
    ProbeResult r = ProbeResult::ok("fine");
    r.samples.push_back({duration, value, {{"phase", phase}}});
    r.samples.push_back({status_code, 200});
    return r;
  };
  const auto now = std::chrono::system_clock::now();
  store.record("a", result(0.1, "connect"), 0.1, now);
  store.record("b", result(0.2, "connect"), 0.1, now);
  store.record("c", result(0.3, "tls"), 0.1, now);
  const RecordedResult& a = *store.find("a")->last_result;
  const RecordedResult& b = *store.find("b")->last_result;
  const RecordedResult& c = *store.find("c")->last_result;
  EXPECT_EQ(a.layout, b.layout);
  EXPECT_NE(a.layout, c.layout);  // a label value differs
  EXPECT_EQ(a.values, (std::vector<double>{0.1, 200}));
  EXPECT_EQ(b.values, (std::vector<double>{0.2, 200}));
  EXPECT_EQ(c.key(0).labels, (Labels{{"phase", "tls"}}));
  // Once no result uses it, c's layout is freed: a new run of c with a's keys shares a's.
  std::weak_ptr<const SampleLayout> old_c = c.layout;
  store.record("c", result(0.4, "connect"), 0.1, now);
  EXPECT_TRUE(old_c.expired());
  EXPECT_EQ(store.find("c")->last_result->layout, a.layout);
}

}  // namespace
}  // namespace vigie

namespace vigie {
namespace {

/// A type that only declares families, enough for the registry's checks.
class DeclaringFactory final : public ProbeFactory {
 public:
  DeclaringFactory(std::string type, Families families)
      : type_(std::move(type)), families_(std::move(families)) {}
  std::string_view type() const override { return type_; }
  const ConfigSchema& schema() const override { return schema_; }
  const Families& families() const override { return families_; }
  ProbePtr create(const ProbeConfig&) const override { return nullptr; }

 private:
  std::string type_;
  ConfigSchema schema_;
  Families families_;
};

std::string refusal(ProbeRegistry& registry, std::string type, Families families) {
  try {
    registry.add(std::make_unique<DeclaringFactory>(std::move(type), std::move(families)));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(MetricFamilies, AFamilyNameMeansOneHelpAndTypeAcrossProbeTypes) {
  ProbeRegistry registry;
  const FamilyHandle latency = declareFamily("probe_x_latency_seconds", "Latency of x");
  EXPECT_EQ(refusal(registry, "first", {latency, families::ipProtocol()}), "");
  // The same declaration again, or an equal one, is welcome: that is what sharing means.
  EXPECT_EQ(
      refusal(registry, "second",
              {families::ipProtocol(), declareFamily("probe_x_latency_seconds", "Latency of x")}),
      "");
  EXPECT_EQ(
      refusal(registry, "other_help", {declareFamily("probe_x_latency_seconds", "Latency of y")}),
      "probe type 'other_help' declares metric family 'probe_x_latency_seconds' as gauge "
      "\"Latency of y\", but 'first' declared it as gauge \"Latency of x\"");
  EXPECT_NE(refusal(registry, "other_type",
                    {declareFamily("probe_x_latency_seconds", "Latency of x", MetricType::Counter)})
                .find("as counter \"Latency of x\", but 'first' declared it as gauge"),
            std::string::npos);
  EXPECT_NE(refusal(registry, "self_clash",
                    {declareFamily("probe_y", "one"), declareFamily("probe_y", "two")})
                .find("but 'self_clash' declared it as gauge \"one\""),
            std::string::npos);
  // A refused type is not registered, and its other families are not kept either.
  EXPECT_EQ(registry.find("other_help"), nullptr);
  EXPECT_EQ(refusal(registry, "third", {declareFamily("probe_y", "three")}), "");
}

TEST(MetricFamilies, TheAgentsOwnFamiliesCannotBeDeclared) {
  ProbeRegistry registry;
  for (const char* name : {"probe_success", "probe_duration_seconds", "vigie_probe_state"}) {
    EXPECT_NE(refusal(registry, "t", {declareFamily(name, "mine")}).find("only the agent reports"),
              std::string::npos)
        << name;
  }
}

TEST(MetricFamilies, BuiltinTypesAgreeOnTheirSharedFamilies) {
  ProbeRegistry registry;
  registerBuiltinProbes(registry);  // throws on any clash between two built-in types
  for (const char* type : {"tcp", "http"}) {
    const Families& declared = registry.find(type)->families();
    EXPECT_NE(std::find(declared.begin(), declared.end(), families::tlsVersionInfo()),
              declared.end())
        << type;
  }
}

TEST(MetricFamilies, HelpAndTypeLinesComeFromTheDeclaredFamily) {
  StateStore store;
  SelfMetrics self;
  store.configure({spec("a", "1"), spec("b", "1")});
  const FamilyHandle hits = declareFamily("probe_hits_total", "Hits so far", MetricType::Counter);
  for (const char* name : {"b", "a"}) {
    ProbeResult result = ProbeResult::ok("fine");
    result.samples.push_back({hits, 3});
    result.samples.push_back({families::sslEarliestCertExpiry(), 1e9});
    store.record(name, result, 0.1, std::chrono::system_clock::now());
  }
  const std::string text = renderMetrics(store, self);
  EXPECT_TRUE(
      contains(text, "# HELP probe_hits_total Hits so far\n# TYPE probe_hits_total counter\n"));
  EXPECT_TRUE(contains(text, "# HELP probe_ssl_earliest_cert_expiry " +
                                 families::sslEarliestCertExpiry()->help + "\n"));
  // One header per family, whatever the number of probes reporting it.
  EXPECT_EQ(text.find("# HELP probe_hits_total"), text.rfind("# HELP probe_hits_total"));
  EXPECT_TRUE(
      contains(text, "# HELP probe_success Displays whether or not the probe was a success\n"));
}

}  // namespace
}  // namespace vigie
