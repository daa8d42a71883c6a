// SPDX-License-Identifier: Apache-2.0
#include "daemon/single_run.h"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <cctype>
#include <charconv>

namespace vigie {
namespace {

// Shortest exact form: "%g" would turn a certificate expiry timestamp into 1.79678e+09.
std::string perfNumber(double value) {
  char text[64];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return std::string(text, end);
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

RunOutcome runOnce(const ProbeSpec& spec) {
  asio::io_context io;
  auto result =
      asio::co_spawn(io, runProbe(*spec.probe, spec.name, spec.timeout), asio::use_future);
  io.run();
  return result.get();
}

std::string formatNagios(const ProbeSpec& spec, const RunOutcome& outcome) {
  const ProbeResult& result = outcome.result;
  std::string text = upper(statusName(result.status)) + " - " + spec.name + ": " + result.message;
  if (!result.reason.empty()) {
    text += " (reason: " + result.reason + ")";
  }
  // Perfdata: the run's duration, then every unlabelled sample; labelled ones go to the details.
  text += " | duration=" + perfNumber(outcome.duration_seconds) + "s;;;0";
  std::string details;
  for (const Sample& sample : result.samples) {
    if (sample.labels.empty()) {
      text += " " + sample.name() + "=" + perfNumber(sample.value);
      continue;
    }
    std::string labels;
    for (const auto& [name, value] : sample.labels) {
      labels += (labels.empty() ? "" : ",") + name + "=\"" + value + "\"";
    }
    details += sample.name() + "{" + labels + "} " + perfNumber(sample.value) + "\n";
  }
  text += "\n";
  for (const std::string& line : result.details) {
    text += line + "\n";
  }
  return text + details;
}

}  // namespace vigie
