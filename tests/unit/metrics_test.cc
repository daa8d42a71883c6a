// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics.h"

#include <gtest/gtest.h>

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
  ok.samples.push_back({"probe_ip_protocol", "ip protocol", 6});
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
  result.samples.push_back({"probe_custom", "line one\nline two \\", 0.5, {{"path", "/a\"b"}}});
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
  result.samples.push_back({"probe_ip_protocol", "ip protocol", 4});
  store.record("p", result, 0.1, std::chrono::system_clock::now());
  ASSERT_TRUE(store.find("p")->last_result);
  EXPECT_EQ(store.find("p")->last_result->sampleCount(), 1u);
  EXPECT_EQ(store.find("p")->last_result->key(0).name, "probe_ip_protocol");
  EXPECT_EQ(store.find("p")->last_result->values[0], 4);
  EXPECT_EQ(store.find("p")->last_result->message, "fine");
}

TEST(StateStore, ProbesWithTheSameSampleKeysShareOneLayout) {
  StateStore store;
  store.configure({spec("a", "1"), spec("b", "1"), spec("c", "1")});
  auto result = [](double value, const std::string& phase) {
    ProbeResult r = ProbeResult::ok("fine");
    r.samples.push_back({"probe_http_duration_seconds", "by phase", value, {{"phase", phase}}});
    r.samples.push_back({"probe_http_status_code", "status", 200});
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
