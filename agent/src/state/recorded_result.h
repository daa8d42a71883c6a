// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "vigie/probe.h"

namespace vigie {

/// What identifies one sample of a result, everything but its value.
struct SampleKey {
  FamilyHandle family;
  Labels labels;

  const std::string& name() const { return family->name; }
};

/// The keys of a result's samples, in order. The same from run to run and across the probes of
/// a type, so stored results share one instead of each keeping ~15 family handles and labels.
using SampleLayout = std::vector<SampleKey>;

/// A probe result as the agent keeps it until the next run: without its `--probe` details, its
/// sample keys shared.
struct RecordedResult {
  Status status = Status::Unknown;
  std::string reason;
  std::string message;
  std::shared_ptr<const SampleLayout> layout;
  std::vector<double> values;  ///< one per layout entry

  std::size_t sampleCount() const { return values.size(); }
  const SampleKey& key(std::size_t i) const { return (*layout)[i]; }
};

/// Hands out one shared SampleLayout per distinct set of sample keys. A layout lives as long as
/// a recorded result uses it.
class SampleLayouts {
 public:
  RecordedResult record(ProbeResult result);

 private:
  std::shared_ptr<const SampleLayout> intern(std::vector<Sample>& samples);
  void forgetUnused();

  std::unordered_multimap<std::size_t, std::weak_ptr<const SampleLayout>> layouts_;
  std::size_t sweep_at_ = 64;
};

}  // namespace vigie
