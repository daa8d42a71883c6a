// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "alert/alert_state.h"
#include "state/recorded_result.h"
#include "vigie/probe.h"

namespace vigie {

/// RFC 3339 UTC with milliseconds, e.g. 2024-05-02T08:41:10.123Z.
std::string rfc3339(WallTime when);

/// A stable identity for an alert: FNV-1a 64 over the sorted label pairs, each name and value
/// followed by 0xff (Alertmanager's fingerprint scheme), as 16 hex digits.
std::string dedupKey(Labels identity);

/// A UUIDv7: time ordered, random otherwise; generated once per event and reused on retries.
std::string newEventId(WallTime now);

/// The canonical severity words of the event schema for a probe status.
std::string_view severityOf(Status status);

/// What the canonical event is built from.
struct EventSource {
  std::string agent;  ///< agent.name
  std::string probe;
  std::string type;
  Labels labels;  ///< the probe's configured labels: CI reference and identity
  const AlertState* state = nullptr;
  const RecordedResult* result = nullptr;  ///< the result that caused the change, if any
  int max_attempts = 3;
};

/// The canonical event (docs/ALERTING.md, schema "vigie-event/1") of one alert change.
nlohmann::json buildEvent(const EventSource& source, const AlertChange& change, WallTime now,
                          Status previous_severity = Status::Ok);

/// The periodic liveness event (action heartbeat) of an agent.
nlohmann::json buildHeartbeat(const std::string& agent, WallTime now);

}  // namespace vigie
