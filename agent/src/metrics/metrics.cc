// SPDX-License-Identifier: Apache-2.0
#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <charconv>
#include <cmath>
#include <map>

#include "vigie/version.h"

namespace vigie {
namespace {

/// One per-probe gauge whose value derives from the probe's state.
struct ProbeGauge {
  std::string_view name;
  std::string_view help;
  /// Only exported once the probe has produced a result.
  bool needs_result;
  double (*value)(const ProbeState& state);
};

double seconds(std::chrono::system_clock::time_point when) {
  return std::chrono::duration<double>(when.time_since_epoch()).count();
}

const ProbeGauge kProbeGauges[] = {
    {families::probeSuccess()->name, families::probeSuccess()->help, true,
     [](const ProbeState& s) { return s.last_result->status == Status::Ok ? 1.0 : 0.0; }},
    {families::probeDuration()->name, families::probeDuration()->help, true,
     [](const ProbeState& s) { return s.last_duration_seconds; }},
    {"vigie_probe_status", "Last result of the probe: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN", true,
     [](const ProbeState& s) { return static_cast<double>(s.last_result->status); }},
    {"vigie_probe_last_run_timestamp_seconds", "Time the last run of the probe ended", true,
     [](const ProbeState& s) { return seconds(s.last_run); }},
    {"vigie_probe_state", "Alert state of the probe: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN", false,
     [](const ProbeState& s) { return static_cast<double>(s.alert.status); }},
    {"vigie_probe_state_hard", "1 if the alert state is HARD, 0 if SOFT", false,
     [](const ProbeState& s) { return s.alert.type == StateType::Hard ? 1.0 : 0.0; }},
    {"vigie_probe_attempt", "Consecutive non-OK results counted towards max_attempts", false,
     [](const ProbeState& s) {
       return s.alert.status == Status::Ok ? 0.0 : static_cast<double>(s.alert.attempt);
     }},
    {"vigie_probe_flapping", "1 while the probe is flapping", false,
     [](const ProbeState& s) { return s.alert.flapping ? 1.0 : 0.0; }},
    {"vigie_probe_in_maintenance", "1 while a maintenance window holds the probe's alerts", false,
     [](const ProbeState& s) { return s.alert.in_maintenance ? 1.0 : 0.0; }},
    {"vigie_probe_unreachable", "1 while a probe it depends on is in a HARD problem", false,
     [](const ProbeState& s) { return s.alert.unreachable ? 1.0 : 0.0; }},
    {"vigie_probe_last_state_change_timestamp_seconds",
     "Time the alert state last changed (SOFT or HARD)", false,
     [](const ProbeState& s) { return seconds(s.alert.last_state_change); }},
};

void appendEscaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void appendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char text[32];
    const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
    out.append(text, end);
  }
}

void appendHeader(std::string& out, std::string_view name, std::string_view help,
                  std::string_view type) {
  out.append("# HELP ").append(name).append(" ");
  appendEscaped(out, help, false);
  out.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

/// `,name="value"` for each label, escaped.
std::string labelText(const Labels& labels) {
  std::string text;
  for (const auto& [label, value] : labels) {
    text.append(",").append(label).append("=\"");
    appendEscaped(text, value, true);
    text += '"';
  }
  return text;
}

/// `name{identity extra} value`; both label texts are already escaped.
void appendSeries(std::string& out, std::string_view name, std::string_view identity,
                  std::string_view extra, double value) {
  out.append(name).append("{").append(identity).append(extra).append("} ");
  appendValue(out, value);
  out += '\n';
}

/// probe="...",type="...",<configured labels>: rendered once per probe and scrape.
std::string identityLabels(const ProbeState& state) {
  std::string text = "probe=\"";
  appendEscaped(text, state.name, true);
  text += "\",type=\"";
  appendEscaped(text, state.type, true);
  text += '"';
  return text + labelText(state.labels);
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
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001,
                                                                     0.0025, 0.005, 0.01, 0.02,
                                                                     0.05, 0.1, 0.5, 1, 5})) {
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

void appendProbeMetrics(const StateStore& store, std::string& out) {
  std::vector<std::pair<const ProbeState*, std::string>> rows;
  rows.reserve(store.probes().size());
  for (const auto& [name, state] : store.probes()) {
    rows.emplace_back(&state, identityLabels(state));
  }
  for (const ProbeGauge& gauge : kProbeGauges) {
    appendHeader(out, gauge.name, gauge.help, "gauge");
    for (const auto& [state, identity] : rows) {
      if (!gauge.needs_result || state->last_result) {
        appendSeries(out, gauge.name, identity, {}, gauge.value(*state));
      }
    }
  }
  appendHeader(out, "vigie_probe_failure_info",
               "Why the last run of the probe failed, as a fixed reason word", "gauge");
  for (const auto& [state, identity] : rows) {
    if (state->last_result && !state->last_result->reason.empty()) {
      appendSeries(out, "vigie_probe_failure_info", identity,
                   labelText({{"reason", state->last_result->reason}}), 1);
    }
  }
  appendHeader(out, "vigie_probe_runs_total", "Runs of the probe by result", "counter");
  static const std::string kResultLabels[] = {",result=\"ok\"", ",result=\"warning\"",
                                              ",result=\"critical\"", ",result=\"unknown\""};
  for (const auto& [state, identity] : rows) {
    for (std::size_t s = 0; s < state->runs.size(); ++s) {
      appendSeries(out, "vigie_probe_runs_total", identity, kResultLabels[s],
                   static_cast<double>(state->runs[s]));
    }
  }
  // What probes reported themselves, grouped by family name: the registry guarantees that the
  // types of one configuration declare a name with one help and type.
  struct Reported {
    std::size_t row;
    const SampleKey* key;
    double value;
  };
  std::map<std::string_view, std::vector<Reported>> samples;
  for (std::size_t row = 0; row < rows.size(); ++row) {
    if (const auto& result = rows[row].first->last_result) {
      for (std::size_t i = 0; i < result->sampleCount(); ++i) {
        const SampleKey& key = result->key(i);
        samples[key.name()].push_back({row, &key, result->values[i]});
      }
    }
  }
  for (const auto& [name, reported] : samples) {
    const MetricFamily& family = *reported.front().key->family;
    appendHeader(out, name, family.help, metricTypeName(family.type));
    for (const Reported& sample : reported) {
      appendSeries(out, name, rows[sample.row].second, labelText(sample.key->labels), sample.value);
    }
  }
}

std::string renderMetrics(const StateStore& store, const SelfMetrics& self) {
  std::string out;
  out.reserve(store.probes().size() * 1024);
  appendProbeMetrics(store, out);
  out += prometheus::TextSerializer().Serialize(self.collect());
  return out;
}

}  // namespace vigie
