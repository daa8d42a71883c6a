// SPDX-License-Identifier: Apache-2.0
#include "scheduler/scheduler.h"

#include <algorithm>
#include <bit>

namespace vigie {

Millis phaseOf(std::string_view name, Millis interval) {
  // FNV-1a: stable across runs and builds, unlike std::hash.
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return Millis(static_cast<Millis::rep>(hash % static_cast<std::uint64_t>(interval.count())));
}

TimePoint firstDue(TimePoint now, Millis interval, Millis phase) {
  const auto since_epoch = std::chrono::duration_cast<Millis>(now.time_since_epoch());
  const auto slot_start = since_epoch - since_epoch % interval;
  auto due = TimePoint(slot_start + phase);
  if (due < now) {
    due += interval;
  }
  return due;
}

TimePoint nextDue(TimePoint due, TimePoint now, Millis interval) {
  auto next = due + interval;
  if (next <= now) {
    const auto missed = (now - next) / interval + 1;
    next += missed * interval;
  }
  return next;
}

Millis startWindow(Millis between_runs) {
  constexpr Millis::rep kMin = 1;
  constexpr Millis::rep kMax = 256;
  const auto target = static_cast<std::uint64_t>(std::clamp(between_runs.count() / 64, kMin, kMax));
  return Millis(static_cast<Millis::rep>(std::bit_floor(target)));
}

TimePoint batchStart(TimePoint due, Millis window) {
  const auto since_epoch = std::chrono::duration_cast<Millis>(due.time_since_epoch());
  return TimePoint(since_epoch - since_epoch % window);
}

Scheduler::Scheduler(std::size_t max_concurrent, StartFn start)
    : max_concurrent_(max_concurrent), start_(std::move(start)) {}

void Scheduler::add(ProbeId id, std::string_view name, Millis interval, TimePoint now) {
  const Millis phase = phaseOf(name, interval);
  const TimePoint due = firstDue(now, interval, phase);
  entries_[id] = Entry{interval, phase, due, false, false};
  push(id, due, interval);
}

void Scheduler::push(ProbeId id, TimePoint due, Millis between_runs) {
  heap_.push({batchStart(due, startWindow(between_runs)), due, id});
}

void Scheduler::remove(ProbeId id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return;
  }
  if (it->second.running) {
    --running_;
  }
  entries_.erase(it);
}

void Scheduler::start(ProbeId id, Entry& entry) {
  entry.running = true;
  ++running_;
  start_(id, entry.due);
}

std::optional<TimePoint> Scheduler::poll(TimePoint now) {
  while (!waiting_.empty() && running_ < max_concurrent_) {
    const ProbeId id = waiting_.front();
    waiting_.pop_front();
    if (auto it = entries_.find(id); it != entries_.end() && !it->second.running) {
      start(id, it->second);
    }
  }
  while (!heap_.empty() && heap_.top().start <= now) {
    const Due top = heap_.top();
    heap_.pop();
    auto it = entries_.find(top.id);
    if (it == entries_.end() || it->second.due != top.due || it->second.running) {
      continue;
    }
    if (running_ < max_concurrent_ && waiting_.empty()) {
      start(top.id, it->second);
    } else {
      waiting_.push_back(top.id);
    }
  }
  while (!heap_.empty()) {
    auto it = entries_.find(heap_.top().id);
    if (it != entries_.end() && it->second.due == heap_.top().due && !it->second.running) {
      return heap_.top().start;
    }
    heap_.pop();
  }
  return std::nullopt;
}

void Scheduler::runNow(ProbeId id, TimePoint now) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.running || it->second.due <= now) {
    return;
  }
  it->second.retrying = true;
  it->second.due = now;
  push(id, now, Millis(1));
}

Scheduler::Entry* Scheduler::release(ProbeId id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.running) {
    return nullptr;
  }
  --running_;
  it->second.running = false;
  return &it->second;
}

void Scheduler::finished(ProbeId id, TimePoint now) {
  Entry* entry = release(id);
  if (entry == nullptr) {
    return;
  }
  if (entry->retrying) {
    // Back on the phase after retries, at the first slot strictly after this run.
    entry->retrying = false;
    entry->due = firstDue(now + Millis(1), entry->interval, entry->phase);
  } else {
    entry->due = nextDue(entry->due, now, entry->interval);
  }
  push(id, entry->due, entry->interval);
}

void Scheduler::finished(ProbeId id, TimePoint now, Millis retry_after) {
  Entry* entry = release(id);
  if (entry == nullptr) {
    return;
  }
  entry->retrying = true;
  entry->due = now + retry_after;
  push(id, entry->due, retry_after);
}

}  // namespace vigie
