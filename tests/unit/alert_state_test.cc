// SPDX-License-Identifier: Apache-2.0
#include "alert/alert_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace vigie {
namespace {

using namespace std::chrono_literals;

// One row: results separated by spaces (O W C U; prefix m = in maintenance, p = parent down,
// h = a parent not checked yet since the problem began) and,
// for each result, what receivers must be told: "." nothing, "T2" trigger CRITICAL, "U1" update to
// WARNING, "R2" resolve of a CRITICAL alert, "F+" / "F-" flapping starts / stops.
struct Row {
  const char* name;
  AlertPolicy policy;
  const char* results;
  const char* told;
  const char* final_state;  // e.g. "critical HARD 3"
};

void PrintTo(const Row& row, std::ostream* out) { *out << row.name; }

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string word; in >> word;) {
    out.push_back(word);
  }
  return out;
}

Status statusOf(char letter) {
  switch (letter) {
    case 'O':
      return Status::Ok;
    case 'W':
      return Status::Warning;
    case 'C':
      return Status::Critical;
    default:
      return Status::Unknown;
  }
}

std::string describe(const std::vector<AlertChange>& changes) {
  if (changes.empty()) {
    return ".";
  }
  std::string text;
  for (const AlertChange& change : changes) {
    if (!text.empty()) {
      text += ',';
    }
    if (change.kind == AlertKind::Flapping) {
      text += change.action == AlertAction::Resolve ? "F-" : "F+";
      continue;
    }
    text += change.action == AlertAction::Trigger  ? 'T'
            : change.action == AlertAction::Update ? 'U'
                                                   : 'R';
    text += std::to_string(static_cast<int>(change.severity));
  }
  return text;
}

AlertPolicy policy(int max_attempts, int recovery_attempts = 1, bool flap = true) {
  AlertPolicy p;
  p.max_attempts = max_attempts;
  p.recovery_attempts = recovery_attempts;
  p.flap_detection = flap;
  return p;
}

class AlertStateTable : public ::testing::TestWithParam<Row> {};

TEST_P(AlertStateTable, TellsReceiversExactlyTheHardTransitions) {
  const Row& row = GetParam();
  const auto results = words(row.results);
  const auto told = words(row.told);
  ASSERT_EQ(results.size(), told.size()) << "bad table row";
  AlertState state;
  WallTime now{1'700'000'000s};
  for (std::size_t i = 0; i < results.size(); ++i) {
    const std::string& token = results[i];
    StepContext context;
    context.in_maintenance = token.find('m') != std::string::npos;
    context.parent_down = token.find('p') != std::string::npos;
    context.parent_pending = token.find('h') != std::string::npos;
    now += 10s;
    const StepOutcome outcome = step(state, row.policy, statusOf(token.back()), now, context);
    EXPECT_EQ(describe(outcome.changes), told[i])
        << "after result " << i + 1 << " (" << token << ")";
  }
  const std::string final_state = std::string(statusName(state.status)) + " " +
                                  std::string(stateTypeName(state.type)) + " " +
                                  std::to_string(state.attempt);
  EXPECT_EQ(final_state, row.final_state);
}

const Row kRows[] = {
    {"steady_ok", policy(3), "O O O", ". . .", "ok HARD 1"},
    {"soft_then_hard", policy(3), "O C C C C", ". . . T2 .", "critical HARD 3"},
    {"soft_recovers_silently", policy(3), "C C O C O", ". . . . .", "ok HARD 1"},
    {"hard_at_once", policy(1), "C O", "T2 R2", "ok HARD 1"},
    {"severity_change_while_hard", policy(2), "W W C W", ". T1 U2 U1", "warning HARD 2"},
    {"severity_change_while_soft_is_silent", policy(3), "W C W", ". . T1", "warning HARD 3"},
    {"unknown_is_a_problem", policy(2), "U U O", ". T3 R3", "ok HARD 1"},
    {"recovery_hysteresis", policy(1, 3), "C O O C O O O", "T2 . . . . . R2", "ok HARD 1"},
    {"maintenance_hides_trigger", policy(1), "mC mC C", ". . T2", "critical HARD 1"},
    {"maintenance_hides_flap_of_state", policy(1), "C mO mC mO O", "T2 . . . R2", "ok HARD 1"},
    {"recovered_during_maintenance", policy(1), "C mO O", "T2 . R2", "ok HARD 1"},
    {"down_and_up_inside_maintenance", policy(1), "mC mO O", ". . .", "ok HARD 1"},
    {"unreachable_does_not_alert", policy(1), "pC pC O", ". . .", "ok HARD 1"},
    {"parent_recovers_child_still_down", policy(1), "pC C", ". T2", "critical HARD 1"},
    {"no_flap_detection_storm", policy(1, 1, false), "C O C O", "T2 R2 T2 R2", "ok HARD 1"},
    // Finding 1: HARD inside maintenance with the parent down; the first OK after both ends
    // (recovery_attempts 2) must not trigger, the second recovers silently.
    {"leaving_maintenance_on_ok_never_triggers", policy(1, 2), "mpC mpC O O", ". . . .",
     "ok HARD 1"},
    {"leaving_maintenance_still_failing_triggers", policy(1, 2), "mC mC C", ". . T2",
     "critical HARD 1"},
    {"leaving_maintenance_ok_then_failing_again", policy(1, 2), "mC O C", ". . T2",
     "critical HARD 1"},
    {"entering_maintenance_while_firing_keeps_it", policy(1), "C mC mC C", "T2 . . .",
     "critical HARD 1"},
    {"severity_change_inside_maintenance_caught_up", policy(1), "W mC C", "T1 . U2",
     "critical HARD 1"},
    {"unreachable_then_parent_back_child_ok", policy(1, 2), "pC O O", ". . .", "ok HARD 1"},
    {"unreachable_then_parent_back_child_failing", policy(1, 2), "pC pC C", ". . T2",
     "critical HARD 1"},
    {"recovered_while_unreachable_resolves", policy(1), "C pO O", "T2 . R2", "ok HARD 1"},
    {"recovery_attempts_interrupted", policy(1, 3), "C O O W O O O", "T2 . . U1 . . R1",
     "ok HARD 1"},
    // Dependencies: a failing child waits SOFT for its parent's check before it may go HARD.
    {"held_soft_until_parent_checked", policy(1), "hC", ".", "critical SOFT 1"},
    {"held_then_parent_passes", policy(1), "hC C", ". T2", "critical HARD 1"},
    {"held_then_parent_fails", policy(1), "hC pC pO O", ". . . .", "ok HARD 1"},
    {"held_at_max_attempts", policy(2), "C hC hC C", ". . . T2", "critical HARD 2"},
};

INSTANTIATE_TEST_SUITE_P(Tables, AlertStateTable, ::testing::ValuesIn(kRows),
                         [](const auto& row_info) { return std::string(row_info.param.name); });

TEST(Flapping, RatioWeighsRecentChangesMore) {
  EXPECT_DOUBLE_EQ(flapPercent(0), 0.0);
  EXPECT_NEAR(flapPercent((1U << kFlapWindow) - 1), 100.0, 1e-9);
  EXPECT_GT(flapPercent(1U), flapPercent(1U << (kFlapWindow - 1)));
}

TEST(Flapping, OneFlappingAlertInsteadOfAStormThenBackToNormal) {
  AlertState state;
  AlertPolicy p = policy(1);
  WallTime now{1'700'000'000s};
  std::vector<std::string> told;
  auto feed = [&](Status s) {
    now += 10s;
    told.push_back(describe(step(state, p, s, now, {}).changes));
  };
  for (int i = 0; i < 20; ++i) {
    feed(i % 2 == 0 ? Status::Critical : Status::Ok);
  }
  // Without flapping detection these 20 results would tell 20 things.
  const auto flap_start = std::find(told.begin(), told.end(), "F+");
  ASSERT_NE(flap_start, told.end()) << "flapping never detected";
  int probe_changes = 0;
  for (auto it = told.begin(); it != told.end(); ++it) {
    if (*it != "." && *it != "F+") {
      ++probe_changes;
      EXPECT_LT(it, flap_start) << "probe alert changed while flapping: " << *it;
    }
  }
  EXPECT_LT(probe_changes, 10);
  EXPECT_TRUE(state.flapping);
  // Stable CRITICAL: the ratio decays, flapping stops, the probe alert reflects reality.
  std::string last;
  for (int i = 0; i < 20 && state.flapping; ++i) {
    now += 10s;
    last = describe(step(state, p, Status::Critical, now, {}).changes);
  }
  EXPECT_FALSE(state.flapping);
  EXPECT_NE(last.find("F-"), std::string::npos);
  EXPECT_TRUE(state.notified_firing);
  EXPECT_EQ(state.notified_severity, Status::Critical);
}

// Finding 5: a probe removed from the configuration retires its alert, never resolves it.
TEST(AlertState, CloseAllRetiresWhatIsOpen) {
  AlertState state;
  step(state, policy(1), Status::Critical, WallTime{1s}, {});
  const auto changes = closeAll(state);
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].action, AlertAction::Retire);
  EXPECT_TRUE(closeAll(state).empty());
}

TEST(AlertState, TimestampsFollowChanges) {
  AlertState state;
  step(state, policy(2), Status::Critical, WallTime{10s}, {});
  EXPECT_EQ(state.last_state_change, WallTime{10s});
  EXPECT_EQ(state.last_hard_change, WallTime{});
  step(state, policy(2), Status::Critical, WallTime{20s}, {});
  EXPECT_EQ(state.last_hard_change, WallTime{20s});
  EXPECT_EQ(state.firing_since, WallTime{20s});
  // Finding 3: humans read the first failure of the episode, not the HARD change.
  EXPECT_EQ(state.first_failure, WallTime{10s});
}

// Flapping that stops while the probe passes again but awaits its recovery_attempts, its probe
// alert never told (the storm happened in maintenance): a passing result must not trigger it.
TEST(Flapping, StopsOnAPassingResultWithoutTrigger) {
  AlertState state;
  AlertPolicy p = policy(1, 30);
  WallTime now{1'700'000'000s};
  StepContext maintenance;
  maintenance.in_maintenance = true;
  for (int i = 0; i < 21; ++i) {
    now += 10s;
    step(state, p, i % 2 == 0 ? Status::Critical : Status::Ok, now, maintenance);
  }
  ASSERT_TRUE(state.flapping);
  ASSERT_TRUE(state.hardProblem());
  for (int i = 0; i < 25 && state.flapping; ++i) {
    now += 10s;
    for (const AlertChange& change : step(state, p, Status::Ok, now, {}).changes) {
      if (change.kind == AlertKind::Probe) {
        ADD_FAILURE() << "a passing result told the probe alert: " << describe({change});
      }
    }
  }
  EXPECT_FALSE(state.flapping);
  EXPECT_TRUE(state.hardProblem()) << "30 passing results are needed to recover";
  EXPECT_FALSE(state.notified_firing);
}

}  // namespace
}  // namespace vigie
