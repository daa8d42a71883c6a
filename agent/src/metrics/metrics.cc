// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics.h"

#include <map>
#include <prometheus/text_serializer.h>

#include "vigie/version.h"

namespace vigie {
namespace {

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {}};
}

prometheus::ClientMetric metricFor(const ProbeState& state, const Labels& extra = {}) {
  prometheus::ClientMetric metric;
  metric.label.push_back({"probe", state.name});
  metric.label.push_back({"type", state.type});
  for (const auto& [name, value] : state.labels) {
    metric.label.push_back({name, value});
  }
  for (const auto& [name, value] : extra) {
    metric.label.push_back({name, value});
  }
  return metric;
}

void addGauge(prometheus::MetricFamily& target, const ProbeState& state, double value,
              const Labels& extra = {}) {
  auto metric = metricFor(state, extra);
  metric.gauge.value = value;
  target.metric.push_back(std::move(metric));
}

}  // namespace

SelfMetrics::SelfMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      reload_successful_(prometheus::BuildGauge()
                             .Name("vigie_config_last_reload_successful")
                             .Help("1 if the last configuration load succeeded")
                             .Register(*registry_)
                             .Add({})),
      reload_timestamp_(prometheus::BuildGauge()
                            .Name("vigie_config_last_reload_success_timestamp_seconds")
                            .Help("Time of the last successful configuration load")
                            .Register(*registry_)
                            .Add({})),
      probes_configured_(prometheus::BuildGauge()
                             .Name("vigie_probes_configured")
                             .Help("Number of probes in the running configuration")
                             .Register(*registry_)
                             .Add({})),
      lateness_(prometheus::BuildHistogram()
                    .Name("vigie_scheduler_lateness_seconds")
                    .Help("Delay between the time a probe was due and the time it started")
                    .Register(*registry_)
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005,
                                                                     0.001, 0.0025, 0.005, 0.01,
                                                                     0.02, 0.05, 0.1, 0.5, 1, 5})) {
  prometheus::BuildGauge()
      .Name("vigie_build_info")
      .Help("Version and revision of the running vigie-agent")
      .Register(*registry_)
      .Add({{"version", kVersion}, {"revision", kRevision}})
      .Set(1);
}

void SelfMetrics::configReloaded(bool successful, std::chrono::system_clock::time_point when) {
  reload_successful_.Set(successful ? 1 : 0);
  if (successful) {
    reload_timestamp_.Set(std::chrono::duration<double>(when.time_since_epoch()).count());
  }
}

void SelfMetrics::setProbesConfigured(std::size_t count) {
  probes_configured_.Set(static_cast<double>(count));
}

void SelfMetrics::observeLateness(double seconds) { lateness_.Observe(seconds); }

std::vector<prometheus::MetricFamily> collectProbeMetrics(const StateStore& store) {
  using prometheus::MetricType;
  auto success = family("probe_success", "Displays whether or not the probe was a success",
                        MetricType::Gauge);
  auto duration = family("probe_duration_seconds",
                         "Returns how long the probe took to complete in seconds",
                         MetricType::Gauge);
  auto status = family("vigie_probe_status",
                       "Last result of the probe: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
                       MetricType::Gauge);
  auto failure = family("vigie_probe_failure_info",
                        "Why the last run of the probe failed, as a fixed reason word",
                        MetricType::Gauge);
  auto last_run = family("vigie_probe_last_run_timestamp_seconds",
                         "Time the last run of the probe ended", MetricType::Gauge);
  auto runs = family("vigie_probe_runs_total", "Runs of the probe by result",
                     MetricType::Counter);
  // Samples are grouped by metric name across probes: one family per name.
  std::map<std::string, prometheus::MetricFamily> samples;

  for (const auto& [name, state] : store.probes()) {
    for (std::size_t s = 0; s < state.runs.size(); ++s) {
      auto metric = metricFor(state, {{"result", std::string(statusName(static_cast<Status>(s)))}});
      metric.counter.value = static_cast<double>(state.runs[s]);
      runs.metric.push_back(std::move(metric));
    }
    if (!state.last_result) {
      continue;
    }
    const ProbeResult& result = *state.last_result;
    addGauge(success, state, result.status == Status::Ok ? 1 : 0);
    addGauge(duration, state, state.last_duration_seconds);
    addGauge(status, state, static_cast<double>(result.status));
    addGauge(last_run, state,
             std::chrono::duration<double>(state.last_run.time_since_epoch()).count());
    if (!result.reason.empty()) {
      addGauge(failure, state, 1, {{"reason", result.reason}});
    }
    for (const Sample& sample : result.samples) {
      auto [it, inserted] = samples.try_emplace(
          sample.name, family(sample.name, sample.help, MetricType::Gauge));
      addGauge(it->second, state, sample.value, sample.labels);
    }
  }
  std::vector<prometheus::MetricFamily> families;
  for (auto* f : {&success, &duration, &status, &failure, &last_run, &runs}) {
    families.push_back(std::move(*f));
  }
  for (auto& [name, f] : samples) {
    families.push_back(std::move(f));
  }
  return families;
}

std::string renderMetrics(const StateStore& store, const SelfMetrics& self) {
  auto families = collectProbeMetrics(store);
  auto own = self.collect();
  families.insert(families.end(), std::make_move_iterator(own.begin()),
                  std::make_move_iterator(own.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace vigie
