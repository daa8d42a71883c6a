// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alert/alert_state.h"
#include "state/recorded_result.h"
#include "state/state_store.h"
#include "vigie/probe.h"

namespace date {
class time_zone;
}

namespace vigie {

/// RFC 3339 UTC with milliseconds, e.g. 2024-05-02T08:41:10.123Z.
std::string rfc3339(WallTime when);

/// A stable identity for an alert: FNV-1a 64 over the sorted label pairs, each name and value
/// followed by 0xff (Alertmanager's fingerprint scheme), as 16 hex digits.
std::string dedupKey(Labels identity);

/// A UUIDv7: time ordered, random otherwise; generated once per event and reused on retries.
std::string newEventId(WallTime now);

/// One row of the severity table (docs/ALERTING.md, "Severity"): what every destination shows
/// for a probe status. The word is the event's `severity`, Alertmanager's `severity` label and
/// the key of iTop's impact and urgency.
struct SeverityLevel {
  Status status;
  std::string_view word;
  int itop_impact;
  int itop_urgency;
};
/// The table, most severe first.
const std::vector<SeverityLevel>& severityTable();
/// The canonical severity word of a probe status.
std::string_view severityOf(Status status);

/// A human time: local time in `zone` (UTC when null) with its offset and zone name, e.g.
/// "30/11/2026 01:35:10 UTC+01:00 (Europe/Paris)".
std::string humanTime(WallTime when, const date::time_zone* zone);

/// Retire: the probe left the configuration while its alert was open (not a recovery).
enum class EventAction : std::uint8_t { Trigger, Update, Resolve, Heartbeat, Retire };
std::string_view actionName(EventAction action);
std::optional<EventAction> parseAction(std::string_view name);
/// The action the receiver must see when `later` is merged into an `earlier` event never sent,
/// to go from what it knew to the new state (e.g. trigger then resolve → resolve).
EventAction mergeActions(EventAction earlier, EventAction later);

/// One step of an alert's episode, as receivers see it in `history`.
struct EventHistoryItem {
  WallTime at;
  bool firing = true;
  std::string severity;
};

/// The CI the alert is about, from the probe's labels.
struct EventResource {
  std::string ci_name;
  std::string ci_class;
  std::string service;
  std::string organization;
  std::string hosting_center;
  std::string environment;
  std::string app;
};

/// The probe and its state when the event was made.
struct EventCheck {
  std::string name;
  std::string kind;
  std::string status;
  std::string reason;
  /// The reason the alert was triggered with (stable until it resolves).
  std::string alert_reason;
  int consecutive_failures = 0;
  int max_attempts = 3;
};

/// A canonical event (docs/ALERTING.md, schema "vigie-event/1"). Typed inside the agent; its
/// JSON form (toJson) exists only in the outbox and on the wire.
struct Event {
  std::string event_id;
  std::string dedup_key;
  EventAction action = EventAction::Trigger;
  bool firing = true;  ///< status: firing, or resolved
  std::string severity;
  WallTime occurred_at;
  /// occurred_at for people, in agent.timezone (humanTime); empty for heartbeats.
  std::string occurred_at_local;
  /// Alerts only (not heartbeats): the episode's start, and the end of a resolved one.
  WallTime starts_at;
  std::optional<WallTime> ends_at;
  std::string agent;
  EventResource resource;
  EventCheck check;
  Labels labels;  ///< the alert's identity, what dedup_key hashes
  std::string summary;
  std::string description;
  /// The unlabelled samples of the result that caused the change.
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<EventHistoryItem> history;
  /// An update that changed the severity: the one it had.
  std::optional<std::string> previous_severity;
  /// Told again on a schedule (Forwarder), not a change.
  bool reassertion = false;
  /// A parent's alert: its dependents failing with it (unreachable, no alert of their own).
  std::vector<std::string> affected;
  /// The probe's runbook_url and instructions, for the person who reads the alert.
  std::string runbook_url;
  std::string instructions;
  /// An update telling that an operator acknowledged the problem (docs/ALERTING.md).
  std::optional<Acknowledgement> acknowledgement;

  bool heartbeat() const { return action == EventAction::Heartbeat; }
};

/// The event's JSON form; `seq` is written as 0, the outbox numbers it per dedup_key.
nlohmann::json toJson(const Event& event);

/// `later` absorbing `earlier` (never sent): the merged action, both histories in order,
/// later's identity.
Event mergeEvents(const Event& earlier, Event later);

/// What the canonical event is built from.
struct EventSource {
  std::string agent;  ///< agent.name
  std::string probe;
  std::string type;
  Labels labels;  ///< the probe's configured labels: CI reference and identity
  const AlertState* state = nullptr;
  const RecordedResult* result = nullptr;  ///< the result that caused the change, if any
  int max_attempts = 3;
  const date::time_zone* zone = nullptr;  ///< of human times; null means UTC
  /// Failing dependents of the probe, listed in its alert.
  std::vector<std::string> affected;
  std::string runbook_url;
  std::string instructions;
};

/// The canonical event of one alert change.
Event buildEvent(const EventSource& source, const AlertChange& change, WallTime now,
                 Status previous_severity = Status::Ok);

/// The periodic liveness event (action heartbeat) of an agent.
Event buildHeartbeat(const std::string& agent, WallTime now);

}  // namespace vigie
