// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scheduler/clock.h"

namespace vigie {

/// The stable phase of a probe inside its interval, derived from its name, so that start-up and
/// reloads spread probes evenly instead of firing them all at once.
Millis phaseOf(std::string_view name, Millis interval);

/// The first time at or after `now` that falls on the probe's phase.
TimePoint firstDue(TimePoint now, Millis interval, Millis phase);

/// The next due time after a run that was due at `due` and ended at `now`: it keeps the phase
/// and skips the slots an overlong run missed.
TimePoint nextDue(TimePoint due, TimePoint now, Millis interval);

/// How early a probe may start so that it shares a wake-up with its neighbours: a power of two
/// of milliseconds near 1/64th of the time between its runs, from 1 ms to 256 ms (15 s: 128 ms).
/// Powers of two, so the windows of every interval fall on one grid and batch together.
Millis startWindow(Millis between_runs);

/// When a run due at `due` starts: at the start of its window on that grid, so every probe due
/// in the same window starts in the same wake-up. Never after `due`.
TimePoint batchStart(TimePoint due, Millis window);

/// Decides when each probe runs. Pure bookkeeping, no I/O and no clock of its own: the owner
/// calls poll() when the time returned by the previous poll() is reached and finished() when a
/// run ends. Runs start up to their startWindow() ahead of their due time, all the runs due in
/// one window together; a poll inside a window starts nothing the window's first poll did not.
/// A probe never runs twice at once; at most `max_concurrent` run together, the others wait in
/// due order.
class Scheduler {
 public:
  using ProbeId = std::uint64_t;
  /// Called by poll() for each probe to start, with the time it was due.
  using StartFn = std::function<void(ProbeId id, TimePoint due)>;

  Scheduler(std::size_t max_concurrent, StartFn start);

  void add(ProbeId id, std::string_view name, Millis interval, TimePoint now);
  /// Forgets the probe; a run in progress is not rescheduled when it finishes.
  void remove(ProbeId id);
  void setMaxConcurrent(std::size_t max_concurrent) { max_concurrent_ = max_concurrent; }

  /// Starts what is due by the end of the window `now` is in, within the concurrency cap.
  /// Returns when to poll next (the start of the next window with a run due), or nothing when no
  /// probe is scheduled.
  std::optional<TimePoint> poll(TimePoint now);
  /// A run ended at `now`: frees its slot and schedules the probe's next run.
  void finished(ProbeId id, TimePoint now);
  /// As finished(), but the next run comes `retry_after` from now instead of on the phase (a
  /// SOFT alert state re-checks sooner). The next plain finished() goes back to the phase.
  void finished(ProbeId id, TimePoint now, Millis retry_after);

  /// Runs the probe at the next poll, out of turn (a parent checked before its failing child may
  /// alert); its next run after that goes back to the phase. Nothing if it is running already.
  void runNow(ProbeId id, TimePoint now);

  std::size_t running() const { return running_; }
  std::size_t waiting() const { return waiting_.size(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Millis interval;
    Millis phase;
    TimePoint due;
    bool running = false;
    bool retrying = false;
  };
  struct Due {
    TimePoint start;  ///< batchStart() of `due`: the heap's order
    TimePoint due;
    ProbeId id;
    bool operator>(const Due& other) const {
      if (start != other.start) {
        return start > other.start;
      }
      return due != other.due ? due > other.due : id > other.id;
    }
  };

  void start(ProbeId id, Entry& entry);
  void push(ProbeId id, TimePoint due, Millis between_runs);
  /// Frees the slot of a run that ended; null if the probe is unknown or was not running.
  Entry* release(ProbeId id);

  std::size_t max_concurrent_;
  StartFn start_;
  std::size_t running_ = 0;
  std::unordered_map<ProbeId, Entry> entries_;
  // Entries removed or rescheduled leave stale heap items, skipped when popped.
  std::priority_queue<Due, std::vector<Due>, std::greater<>> heap_;
  std::deque<ProbeId> waiting_;
};

}  // namespace vigie
