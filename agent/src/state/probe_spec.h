// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "state/alert_state.h"
#include "vigie/probe.h"

namespace vigie {

/// One configured probe, with its type's probe already built.
struct ProbeSpec {
  std::string name;
  std::string type;
  Labels labels;
  std::chrono::milliseconds interval{};
  std::chrono::milliseconds timeout{};
  ConfigLocation location;
  std::shared_ptr<Probe> probe;
  /// Changes whenever anything that affects the probe changes (reload keeps it when equal).
  std::string fingerprint;
  /// Soft/hard, recovery and flapping settings.
  AlertPolicy alerting;
  /// Probes whose HARD problem makes this one unreachable (no alert of its own).
  std::vector<std::string> depends_on;
  /// For the operator who sees it fail: a procedure's address and free text (never labels).
  std::string runbook_url;
  std::string instructions;
};

}  // namespace vigie
