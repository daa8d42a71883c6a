// SPDX-License-Identifier: Apache-2.0
#include "alert/alert_json.h"

#include <nlohmann/json.hpp>

namespace vigie {

namespace {

std::int64_t millisOf(WallTime when) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
}

WallTime wallOf(std::int64_t millis) {
  return WallTime(
      std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(millis)));
}

Status statusOf(int value) {
  return value >= 0 && value <= 3 ? static_cast<Status>(value) : Status::Unknown;
}

}  // namespace

std::string encodeAlertState(const AlertState& state) {
  return nlohmann::json{{"v", 1},
                        {"status", static_cast<int>(state.status)},
                        {"hard", state.type == StateType::Hard},
                        {"attempt", state.attempt},
                        {"ok_streak", state.ok_streak},
                        {"last_result", static_cast<int>(state.last_result)},
                        {"has_result", state.has_result},
                        {"last_state_change_ms", millisOf(state.last_state_change)},
                        {"last_hard_change_ms", millisOf(state.last_hard_change)},
                        {"change_history", state.change_history},
                        {"flap_percent", state.flap_percent},
                        {"flapping", state.flapping},
                        {"in_maintenance", state.in_maintenance},
                        {"unreachable", state.unreachable},
                        {"notified_firing", state.notified_firing},
                        {"notified_severity", static_cast<int>(state.notified_severity)},
                        {"notified_flapping", state.notified_flapping},
                        {"notified_reason", state.notified_reason},
                        {"firing_since_ms", millisOf(state.firing_since)},
                        {"first_failure_ms", millisOf(state.first_failure)}}
      .dump();
}

std::optional<AlertState> decodeAlertState(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || json.value("v", 0) != 1) {
    return std::nullopt;
  }
  try {
    AlertState state;
    state.status = statusOf(json.at("status").get<int>());
    state.type = json.at("hard").get<bool>() ? StateType::Hard : StateType::Soft;
    state.attempt = json.at("attempt").get<int>();
    state.ok_streak = json.at("ok_streak").get<int>();
    state.last_result = statusOf(json.at("last_result").get<int>());
    state.has_result = json.at("has_result").get<bool>();
    state.last_state_change = wallOf(json.at("last_state_change_ms").get<std::int64_t>());
    state.last_hard_change = wallOf(json.at("last_hard_change_ms").get<std::int64_t>());
    state.change_history = json.at("change_history").get<std::uint32_t>();
    state.flap_percent = json.at("flap_percent").get<double>();
    state.flapping = json.at("flapping").get<bool>();
    state.in_maintenance = json.at("in_maintenance").get<bool>();
    state.unreachable = json.at("unreachable").get<bool>();
    state.notified_firing = json.at("notified_firing").get<bool>();
    state.notified_severity = statusOf(json.at("notified_severity").get<int>());
    state.notified_flapping = json.at("notified_flapping").get<bool>();
    state.notified_reason = json.value("notified_reason", std::string());
    state.firing_since = wallOf(json.at("firing_since_ms").get<std::int64_t>());
    // Absent from states saved by earlier versions: the alert's start is the best guess.
    state.first_failure = wallOf(json.value("first_failure_ms", millisOf(state.firing_since)));
    return state;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace vigie
