// SPDX-License-Identifier: Apache-2.0
#include "state/recorded_result.h"

#include <algorithm>
#include <functional>
#include <string_view>

namespace vigie {
namespace {

std::size_t hashOf(const std::vector<Sample>& samples) {
  std::size_t hash = samples.size();
  auto mix = [&hash](std::string_view text) {
    hash ^= std::hash<std::string_view>{}(text) + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  };
  for (const Sample& sample : samples) {
    hash ^= std::hash<const MetricFamily*>{}(sample.family.get()) + 0x9e3779b97f4a7c15ULL +
            (hash << 6) + (hash >> 2);
    for (const auto& [name, value] : sample.labels) {
      mix(name);
      mix(value);
    }
  }
  return hash;
}

bool sameKeys(const SampleLayout& layout, const std::vector<Sample>& samples) {
  if (layout.size() != samples.size()) {
    return false;
  }
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (layout[i].family != samples[i].family || layout[i].labels != samples[i].labels) {
      return false;
    }
  }
  return true;
}

}  // namespace

RecordedResult SampleLayouts::record(ProbeResult result) {
  RecordedResult recorded;
  recorded.status = result.status;
  recorded.reason = std::move(result.reason);
  recorded.message = std::move(result.message);
  recorded.values.reserve(result.samples.size());
  for (const Sample& sample : result.samples) {
    recorded.values.push_back(sample.value);
  }
  recorded.layout = intern(result.samples);
  return recorded;
}

std::shared_ptr<const SampleLayout> SampleLayouts::intern(std::vector<Sample>& samples) {
  const std::size_t hash = hashOf(samples);
  auto [first, last] = layouts_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    if (auto layout = it->second.lock(); layout && sameKeys(*layout, samples)) {
      return layout;
    }
  }
  auto layout = std::make_shared<SampleLayout>();
  layout->reserve(samples.size());
  for (Sample& sample : samples) {
    layout->push_back({std::move(sample.family), std::move(sample.labels)});
  }
  layouts_.emplace(hash, layout);
  if (layouts_.size() >= sweep_at_) {
    forgetUnused();
  }
  return layout;
}

void SampleLayouts::forgetUnused() {
  std::erase_if(layouts_, [](const auto& entry) { return entry.second.expired(); });
  // Amortised: the next sweep waits until the table has doubled again.
  sweep_at_ = std::max<std::size_t>(64, layouts_.size() * 2);
}

}  // namespace vigie
