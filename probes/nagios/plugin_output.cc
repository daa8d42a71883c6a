// SPDX-License-Identifier: Apache-2.0
#include "nagios/plugin_output.h"

#include <charconv>

#include "util/utf8.h"

namespace vigie::probes {
namespace {

constexpr std::size_t kMaxTextBytes = 4096;
constexpr std::size_t kMaxLongTextLines = 200;
constexpr std::size_t kMaxPerfdata = 200;
constexpr std::size_t kMaxLabelBytes = 128;
constexpr std::size_t kMaxUomBytes = 16;

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && isSpace(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// A number at the start of `text`; `rest` receives what follows it (the UOM).
std::optional<double> leadingNumber(std::string_view text, std::string_view* rest) {
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) {
    return std::nullopt;
  }
  if (rest != nullptr) {
    *rest = text.substr(static_cast<std::size_t>(end - text.data()));
  }
  return value;
}

std::optional<double> plainNumber(std::string_view text) {
  std::string_view rest;
  auto value = leadingNumber(text, &rest);
  return rest.empty() ? value : std::nullopt;
}

std::vector<std::string_view> splitFields(std::string_view text) {
  std::vector<std::string_view> fields;
  for (;;) {
    const std::size_t semicolon = text.find(';');
    fields.push_back(text.substr(0, semicolon));
    if (semicolon == std::string_view::npos) {
      return fields;
    }
    text.remove_prefix(semicolon + 1);
  }
}

}  // namespace

std::vector<PerfDatum> parsePerfdata(std::string_view text, std::vector<std::string>& problems) {
  std::vector<PerfDatum> items;
  std::size_t pos = 0;
  auto skipToken = [&] {
    while (pos < text.size() && !isSpace(text[pos])) {
      ++pos;
    }
  };
  while (pos < text.size()) {
    if (isSpace(text[pos])) {
      ++pos;
      continue;
    }
    const std::size_t token_start = pos;
    std::string label;
    bool ok = true;
    if (text[pos] == '\'') {
      ++pos;
      for (;;) {
        if (pos >= text.size()) {
          ok = false;
          break;
        }
        if (text[pos] == '\'') {
          if (pos + 1 < text.size() && text[pos + 1] == '\'') {  // '' is a literal quote
            label += '\'';
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        label += text[pos++];
      }
      ok = ok && pos < text.size() && text[pos] == '=';
    } else {
      while (pos < text.size() && text[pos] != '=' && !isSpace(text[pos])) {
        label += text[pos++];
      }
      ok = pos < text.size() && text[pos] == '=';
    }
    if (!ok || label.empty()) {
      skipToken();
      problems.push_back("perfdata item '" +
                         sanitizeText(text.substr(token_start, pos - token_start), 200) +
                         "' is not label=value");
      continue;
    }
    ++pos;  // '='
    const std::size_t value_start = pos;
    skipToken();
    const std::string_view value_text = text.substr(value_start, pos - value_start);
    const std::vector<std::string_view> fields = splitFields(value_text);
    PerfDatum datum;
    datum.label = sanitizeText(label, kMaxLabelBytes);
    std::string_view uom;
    if (fields[0] == "U") {
      datum.value = std::nullopt;
    } else if (auto value = leadingNumber(fields[0], &uom)) {
      datum.value = value;
      datum.uom = sanitizeText(uom, kMaxUomBytes);
    } else {
      problems.push_back("perfdata item '" + datum.label + "' has no numeric value ('" +
                         sanitizeText(fields[0], 100) + "')");
      continue;
    }
    std::optional<double>* const thresholds[] = {&datum.warning, &datum.critical, &datum.min,
                                                 &datum.max};
    for (std::size_t i = 1; i < fields.size() && i <= 4; ++i) {
      *thresholds[i - 1] = plainNumber(fields[i]);
    }
    if (items.size() == kMaxPerfdata) {
      problems.push_back("more than " + std::to_string(kMaxPerfdata) +
                         " perfdata items; the rest is ignored");
      break;
    }
    items.push_back(std::move(datum));
  }
  return items;
}

PluginOutput parsePluginOutput(std::string_view output) {
  PluginOutput parsed;
  std::string perfdata;
  bool in_perfdata = false;
  bool first = true;
  while (!output.empty() || first) {
    const std::size_t newline = output.find('\n');
    std::string_view line = output.substr(0, newline);
    output.remove_prefix(newline == std::string_view::npos ? output.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (in_perfdata) {
      perfdata.append(" ").append(line);
      continue;
    }
    const std::size_t pipe = line.find('|');
    const std::string_view text = trim(line.substr(0, pipe));
    if (pipe != std::string_view::npos) {
      perfdata.append(" ").append(line.substr(pipe + 1));
      // On the first line perfdata belongs to that line only; later, it runs to the end.
      in_perfdata = !first;
    }
    if (first) {
      parsed.text = sanitizeText(text, kMaxTextBytes);
      first = false;
    } else if (parsed.long_text.size() < kMaxLongTextLines && (!text.empty() || !in_perfdata)) {
      parsed.long_text.push_back(sanitizeText(text, kMaxTextBytes));
    }
  }
  while (!parsed.long_text.empty() && parsed.long_text.back().empty()) {
    parsed.long_text.pop_back();
  }
  parsed.perfdata = parsePerfdata(perfdata, parsed.problems);
  return parsed;
}

}  // namespace vigie::probes
