// SPDX-License-Identifier: Apache-2.0
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vigie {
namespace {

using namespace std::chrono_literals;

TEST(ScheduleMath, PhaseIsStableAndInsideTheInterval) {
  EXPECT_EQ(phaseOf("slo-front", 15s), phaseOf("slo-front", 15s));
  EXPECT_NE(phaseOf("slo-front", 15s), phaseOf("slo-back", 15s));
  for (int i = 0; i < 1000; ++i) {
    const Millis phase = phaseOf("probe-" + std::to_string(i), 15s);
    EXPECT_GE(phase, 0ms);
    EXPECT_LT(phase, 15s);
  }
}

TEST(ScheduleMath, TenThousandProbesSpreadEvenlyOverTheInterval) {
  // 10,000 probes at 15 s: no second of the interval may get far more than its 1/15th share.
  std::vector<int> per_second(15, 0);
  for (int i = 0; i < 10'000; ++i) {
    ++per_second[static_cast<std::size_t>(phaseOf("probe-" + std::to_string(i), 15s) / 1s)];
  }
  for (int count : per_second) {
    EXPECT_GT(count, 666 * 3 / 4);
    EXPECT_LT(count, 666 * 5 / 4);
  }
}

TEST(ScheduleMath, FirstDueFallsOnThePhaseWithinOneInterval) {
  const TimePoint now{123'456'789ms};
  const TimePoint due = firstDue(now, 15s, 4'200ms);
  EXPECT_GE(due, now);
  EXPECT_LT(due, now + 15s);
  EXPECT_EQ(std::chrono::duration_cast<Millis>(due.time_since_epoch()) % 15s, 4'200ms);
  // Restarting at another time keeps the same phase.
  const TimePoint later = firstDue(now + 7'777ms, 15s, 4'200ms);
  EXPECT_EQ((later - due) % 15s, 0ms);
}

TEST(ScheduleMath, NextDueKeepsThePhaseAndSkipsMissedSlots) {
  const TimePoint due{100s};
  EXPECT_EQ(nextDue(due, due + 2s, 15s), due + 15s);
  // A run that overran two whole slots resumes on the phase, not immediately.
  EXPECT_EQ(nextDue(due, due + 31s, 15s), due + 45s);
  EXPECT_EQ(nextDue(due, due + 15s, 15s), due + 30s);
}

class SchedulerTest : public ::testing::Test {
 protected:
  Scheduler makeScheduler(std::size_t cap) {
    return Scheduler(cap, [this](Scheduler::ProbeId id, TimePoint due) {
      started.push_back({id, due});
    });
  }
  ManualClock clock{TimePoint{1'000'000s}};
  std::vector<std::pair<Scheduler::ProbeId, TimePoint>> started;
};

TEST_F(SchedulerTest, RunsEachProbeOncePerIntervalOnItsPhase) {
  Scheduler scheduler = makeScheduler(10);
  scheduler.add(1, "a", 10s, clock.now());
  scheduler.add(2, "b", 10s, clock.now());
  // Walk 60 s of test time in 100 ms steps, finishing every run 50 ms after it starts.
  std::map<Scheduler::ProbeId, std::vector<TimePoint>> runs;
  for (int step = 0; step < 600; ++step) {
    scheduler.poll(clock.now());
    for (auto& [id, due] : started) {
      EXPECT_LE(due, clock.now() + startWindow(10s));  // early by at most its window
      EXPECT_LT(clock.now() - due, 100ms);
      runs[id].push_back(due);
      scheduler.finished(id, clock.now() + 50ms);
    }
    started.clear();
    clock.advance(100ms);
  }
  ASSERT_EQ(runs[1].size(), 6u);
  ASSERT_EQ(runs[2].size(), 6u);
  for (auto& [id, dues] : runs) {
    for (std::size_t i = 1; i < dues.size(); ++i) {
      EXPECT_EQ(dues[i] - dues[i - 1], 10s);
    }
  }
}

// A parent checked out of turn for its failing child: it runs at the next poll, once, then
// goes back to its phase; a probe already running is left alone.
TEST_F(SchedulerTest, RunNowStartsOutOfTurnThenBackOnThePhase) {
  // A name whose phase is well ahead, so that running now is out of turn.
  std::string name;
  TimePoint phase_due;
  for (int i = 0; name.empty(); ++i) {
    const std::string candidate = "parent" + std::to_string(i);
    phase_due = firstDue(clock.now(), 60s, phaseOf(candidate, 60s));
    if (phase_due - clock.now() > 10s) {
      name = candidate;
    }
  }
  Scheduler scheduler = makeScheduler(10);
  scheduler.add(1, name, 60s, clock.now());
  scheduler.poll(clock.now());
  EXPECT_TRUE(started.empty());
  clock.advance(1s);
  scheduler.runNow(1, clock.now());
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].second, clock.now());
  scheduler.runNow(1, clock.now());  // running: nothing more
  scheduler.poll(clock.now());
  EXPECT_EQ(started.size(), 1u);
  scheduler.finished(1, clock.now() + 10ms);
  const auto next = scheduler.poll(clock.now() + 10ms);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, batchStart(phase_due, startWindow(60s)));
}

TEST_F(SchedulerTest, PollReturnsTheNextDueTime) {
  Scheduler scheduler = makeScheduler(10);
  EXPECT_FALSE(scheduler.poll(clock.now()));
  scheduler.add(1, "a", 10s, clock.now());
  const auto next = scheduler.poll(clock.now());
  ASSERT_TRUE(next);
  const TimePoint due = firstDue(clock.now(), 10s, phaseOf("a", 10s));
  if (started.empty()) {
    EXPECT_EQ(*next, batchStart(due, startWindow(10s)));
  } else {
    EXPECT_LE(due, clock.now() + startWindow(10s));
  }
}

TEST_F(SchedulerTest, ConcurrencyCapQueuesRunsInDueOrder) {
  Scheduler scheduler = makeScheduler(1);
  scheduler.add(1, "a", 10s, clock.now());
  scheduler.add(2, "b", 10s, clock.now());
  scheduler.add(3, "c", 10s, clock.now());
  clock.advance(10s);  // all three are due now
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(scheduler.running(), 1u);
  EXPECT_EQ(scheduler.waiting(), 2u);
  const auto first = started[0];
  scheduler.finished(first.first, clock.now());
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 2u);
  EXPECT_LE(first.second, started[1].second);
  EXPECT_EQ(scheduler.waiting(), 1u);
}

TEST_F(SchedulerTest, AProbeNeverRunsTwiceAtOnce) {
  Scheduler scheduler = makeScheduler(10);
  scheduler.add(1, "a", 1s, clock.now());
  for (int i = 0; i < 50; ++i) {
    clock.advance(100ms);
    scheduler.poll(clock.now());
  }
  EXPECT_EQ(started.size(), 1u);  // still running: never started again
  scheduler.finished(1, clock.now());
  clock.advance(1s);
  scheduler.poll(clock.now());
  EXPECT_EQ(started.size(), 2u);
}

TEST_F(SchedulerTest, RemovedProbeIsNotRescheduled) {
  Scheduler scheduler = makeScheduler(10);
  scheduler.add(1, "a", 1s, clock.now());
  scheduler.add(2, "b", 1s, clock.now());
  clock.advance(1s);
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 2u);
  scheduler.remove(1);
  EXPECT_EQ(scheduler.running(), 1u);
  scheduler.finished(1, clock.now());
  scheduler.finished(2, clock.now());
  started.clear();
  clock.advance(1s);
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].first, 2u);
}

TEST_F(SchedulerTest, RetryIntervalThenBackOnThePhase) {
  Scheduler scheduler = makeScheduler(10);
  scheduler.add(1, "a", 60s, clock.now());
  clock.advance(60s);
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 1u);
  const TimePoint on_phase = started[0].second;
  // SOFT: re-check 5 s after each run instead of 60 s.
  scheduler.finished(1, clock.now(), 5s);
  clock.advance(4s);
  scheduler.poll(clock.now());
  EXPECT_EQ(started.size(), 1u);
  clock.advance(1s);
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1].second, on_phase + (clock.now() - on_phase));
  // Settled: the next run falls on the phase again.
  scheduler.finished(1, clock.now());
  const auto next = scheduler.poll(clock.now());
  ASSERT_TRUE(next);
  clock.advance(std::chrono::duration_cast<Millis>(*next - clock.now()));
  started.clear();
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ((started[0].second - on_phase) % 60s, 0s);
}

TEST(ScheduleMath, StartWindowIsAPowerOfTwoNearA64thOfTheIntervalAndBounded) {
  EXPECT_EQ(startWindow(15s), 128ms);
  EXPECT_EQ(startWindow(60s), 256ms);
  EXPECT_EQ(startWindow(1h), 256ms);
  EXPECT_EQ(startWindow(1s), 8ms);
  EXPECT_EQ(startWindow(10ms), 1ms);
}

TEST(ScheduleMath, BatchStartIsTheWindowStartNeverAfterTheDueTime) {
  const TimePoint due{1'000'100ms};
  EXPECT_EQ(batchStart(due, 128ms), TimePoint{1'000'064ms});
  EXPECT_EQ(batchStart(TimePoint{1'000'064ms}, 128ms), TimePoint{1'000'064ms});
  // Nested windows: a 128 ms window start is also a 64 ms one, so different intervals batch.
  EXPECT_EQ(batchStart(batchStart(due, 128ms), 64ms), batchStart(due, 128ms));
}

TEST_F(SchedulerTest, ProbesDueInOneWindowStartInOneWakeUp) {
  Scheduler scheduler = makeScheduler(1000);
  for (int i = 0; i < 1000; ++i) {
    scheduler.add(static_cast<Scheduler::ProbeId>(i), std::to_string(i), 15s, clock.now());
  }
  // Follow the schedule one wake-up at a time over one interval, as the daemon does.
  std::size_t wakeups = 0;
  std::optional<TimePoint> next = scheduler.poll(clock.now());
  const TimePoint end = clock.now() + 15s;
  while (next && *next < end) {
    clock.advance(std::chrono::duration_cast<Millis>(*next - clock.now()));
    const std::size_t before = started.size();
    next = scheduler.poll(clock.now());
    ASSERT_GT(started.size(), before) << "a wake-up that started nothing";
    for (std::size_t i = before; i < started.size(); ++i) {
      const TimePoint due = started[i].second;
      EXPECT_LE(clock.now(), due);  // early or on time, never late
      EXPECT_LT(due - clock.now(), 128ms);
      EXPECT_EQ(batchStart(due, 128ms), clock.now());
    }
    // A second poll in the same window (a run finishing) starts nothing more.
    clock.advance(3ms);
    const std::size_t after = started.size();
    scheduler.poll(clock.now());
    EXPECT_EQ(started.size(), after);
    ++wakeups;
  }
  EXPECT_GE(started.size(), 990u);        // the probes whose phase fell in this interval
  EXPECT_LE(wakeups, 15'000u / 128 + 1);  // one per 128 ms window at most, not one per probe
}

TEST_F(SchedulerTest, ARetrySoonerThanTheWindowIsNotStartedEarlierThanItsShortWindow) {
  Scheduler scheduler = makeScheduler(10);
  scheduler.add(1, "a", 60s, clock.now());
  clock.advance(60s);
  scheduler.poll(clock.now());
  ASSERT_EQ(started.size(), 1u);
  scheduler.finished(1, clock.now(), 2s);  // window of a 2 s wait: 16 ms, not 256 ms
  clock.advance(2s - 20ms);
  scheduler.poll(clock.now());
  EXPECT_EQ(started.size(), 1u);
  clock.advance(20ms);
  scheduler.poll(clock.now());
  EXPECT_EQ(started.size(), 2u);
}

}  // namespace
}  // namespace vigie
