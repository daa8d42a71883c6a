// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "state/state_store.h"

namespace vigie {

/// The agent's own metrics whose series never come and go (build info, reloads, lateness).
/// Per-probe series are rendered from the StateStore at scrape time instead, so a reload that
/// removes a probe removes its series without any Family::Remove.
class SelfMetrics {
 public:
  SelfMetrics();

  void configReloaded(bool successful, std::chrono::system_clock::time_point when);
  void setProbesConfigured(std::size_t count);
  void observeLateness(double seconds);

  std::vector<prometheus::MetricFamily> collect() const { return registry_->Collect(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge& reload_successful_;
  prometheus::Gauge& reload_timestamp_;
  prometheus::Gauge& probes_configured_;
  prometheus::Histogram& lateness_;
};

/// Appends probe_success, probe_duration_seconds, the samples each probe reported and the
/// per-probe self-metrics, in the text exposition format, from the store as it is now.
/// Written directly rather than through prometheus-cpp's MetricFamily: at 10,000 probes that
/// route allocates ~400k strings per scrape and stalls the event loop for ~100 ms.
void appendProbeMetrics(const StateStore& store, std::string& out);

/// The text exposition of everything above.
std::string renderMetrics(const StateStore& store, const SelfMetrics& self);

}  // namespace vigie
