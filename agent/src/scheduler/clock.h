// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>

namespace vigie {

using TimePoint = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

/// The scheduler's notion of now; tests substitute a ManualClock so they never sleep.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_(start) {}
  TimePoint now() const override { return now_; }
  void advance(Millis by) { now_ += by; }

 private:
  TimePoint now_;
};

}  // namespace vigie
