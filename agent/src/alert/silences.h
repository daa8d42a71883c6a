// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "state/alert_state.h"
#include "vigie/probe.h"

namespace vigie {

/// An operator's silence (or downtime, when it starts later): the probes it matches still run
/// and show their state, but their triggers are not forwarded while it covers them, as in a
/// maintenance window (docs/API.md).
struct Silence {
  std::string id;
  /// Either one probe by name, or every probe whose labels include all of `labels`.
  std::string probe;
  Labels labels;
  WallTime starts_at{};
  WallTime ends_at{};
  std::string author;
  std::string comment;
  WallTime created_at{};

  bool matches(const std::string& name, const Labels& probe_labels) const;
  bool activeAt(WallTime now) const { return starts_at <= now && now < ends_at; }
  bool endedAt(WallTime now) const { return now >= ends_at; }
};

/// The silences not ended yet, in creation order.
class Silences {
 public:
  void add(Silence silence) { silences_.push_back(std::move(silence)); }
  /// False when no silence has that id.
  bool remove(const std::string& id);
  /// The silence covering a probe at `now`, if any (the one ending last).
  const Silence* covering(const std::string& name, const Labels& labels, WallTime now) const;
  /// Forgets the silences ended at `now`; returns them.
  std::vector<Silence> expire(WallTime now);
  const std::vector<Silence>& all() const { return silences_; }

 private:
  std::vector<Silence> silences_;
};

}  // namespace vigie
