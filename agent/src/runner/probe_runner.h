// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <string>

#include "scheduler/clock.h"
#include "vigie/probe.h"

namespace vigie {

struct RunOutcome {
  ProbeResult result;
  double duration_seconds = 0;
  /// The run was stopped by shutdown or reload: its result says nothing about the target.
  bool cancelled = false;
};

/// Runs one execution of `probe` with a hard deadline. Everything generic happens here, never
/// in probes: timing, the timeout (the probe's coroutine is cancelled, not left behind), and
/// turning an exception into an UNKNOWN result, so a faulty probe never stops the agent.
asio::awaitable<RunOutcome> runProbe(Probe& probe, std::string probe_name, Millis timeout);

}  // namespace vigie
