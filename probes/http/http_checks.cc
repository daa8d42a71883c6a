// SPDX-License-Identifier: Apache-2.0
#include "http/http_checks.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "util/json_depth.h"
#include "util/utf8.h"

namespace vigie::probes {
namespace {

// The longest part of a value from the target that a failure message shows.
constexpr std::size_t kMaxShownValueBytes = 256;

std::string pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

std::optional<long> parseCode(std::string_view text) {
  long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 100 || value > 999) {
    return std::nullopt;
  }
  return value;
}

std::vector<JsonPath::Step> parsePath(const std::string& path) {
  const auto bad = [&path](const std::string& why) {
    return std::invalid_argument("path '" + path + "': " + why +
                                 " (supported: $.key, $.a.b, $.list[0], $['key with dots'])");
  };
  if (path.empty() || path[0] != '$') {
    throw bad("must start with $");
  }
  std::vector<JsonPath::Step> steps;
  std::size_t pos = 1;
  while (pos < path.size()) {
    if (path[pos] == '.') {
      const std::size_t end = path.find_first_of(".[", pos + 1);
      std::string key = path.substr(pos + 1, end == std::string::npos ? end : end - pos - 1);
      if (key.empty()) {
        throw bad("empty key");
      }
      steps.push_back({std::move(key), std::nullopt});
      pos = end == std::string::npos ? path.size() : end;
    } else if (path.compare(pos, 2, "['") == 0) {
      const std::size_t end = path.find("']", pos + 2);
      if (end == std::string::npos) {
        throw bad("unterminated ['...']");
      }
      steps.push_back({path.substr(pos + 2, end - pos - 2), std::nullopt});
      pos = end + 2;
    } else if (path[pos] == '[') {
      const std::size_t end = path.find(']', pos);
      std::size_t index = 0;
      const char* first = path.data() + pos + 1;
      const char* last = path.data() + (end == std::string::npos ? path.size() : end);
      const auto [stop, ec] = std::from_chars(first, last, index);
      if (end == std::string::npos || ec != std::errc() || stop != last || first == last) {
        throw bad("expected [INDEX]");
      }
      steps.push_back({"", index});
      pos = end + 1;
    } else {
      throw bad(std::string("unexpected '") + path[pos] + "'");
    }
  }
  return steps;
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &error,
                            &offset, nullptr));
  if (!code_) {
    throw std::invalid_argument("invalid regular expression at offset " + std::to_string(offset) +
                                ": " + pcre2Message(error));
  }
  // JIT is an optimisation only: when unavailable the interpreter gives the same answers.
  pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE);
}

bool Regex::search(std::string_view text) const {
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(code_.get(), nullptr), &pcre2_match_data_free);
  const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                             0, data.get(), nullptr);
  return rc >= 0;
}

std::optional<std::string> Regex::capture(std::string_view text) const {
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(code_.get(), nullptr), &pcre2_match_data_free);
  const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                             0, data.get(), nullptr);
  if (rc < 0) {
    return std::nullopt;
  }
  const PCRE2_SIZE* offsets = pcre2_get_ovector_pointer(data.get());
  const std::size_t group = rc > 1 ? 1 : 0;
  return std::string(text.substr(offsets[2 * group], offsets[2 * group + 1] - offsets[2 * group]));
}

StatusCodeSet StatusCodeSet::parse(const ConfigNode& node) {
  if (!node.isSequence() || node.size() == 0) {
    throw std::invalid_argument("expected a non-empty list of codes (200) or ranges (\"200-299\")");
  }
  std::vector<std::pair<long, long>> ranges;
  for (const ConfigNode& item : node.items()) {
    const std::string& text = item.text();
    const std::size_t dash = text.find('-');
    const auto low = parseCode(std::string_view(text).substr(0, dash));
    const auto high =
        dash == std::string::npos ? low : parseCode(std::string_view(text).substr(dash + 1));
    if (!low || !high || *low > *high) {
      throw std::invalid_argument("'" + text +
                                  "' is neither a status code (100-999) nor a range like 200-299");
    }
    ranges.emplace_back(*low, *high);
  }
  return StatusCodeSet(std::move(ranges));
}

bool StatusCodeSet::contains(long code) const {
  for (const auto& [low, high] : ranges_) {
    if (code >= low && code <= high) {
      return true;
    }
  }
  return false;
}

std::vector<HeaderCheck> parseHeaderChecks(const ConfigNode& node) {
  if (!node.isSequence()) {
    throw std::invalid_argument("expected a list of {header, regexp, allow_missing}");
  }
  std::vector<HeaderCheck> checks;
  for (const ConfigNode& item : node.items()) {
    const ConfigNode* header_node = item.find("header");
    const ConfigNode* regexp = item.find("regexp");
    if (!item.isMap() || header_node == nullptr || regexp == nullptr) {
      throw std::invalid_argument("each entry needs header and regexp");
    }
    for (const auto& [name, value] : item.entries()) {
      if (name != "header" && name != "regexp" && name != "allow_missing") {
        throw std::invalid_argument("unknown key '" + name +
                                    "' (allowed: header, regexp, allow_missing)");
      }
    }
    std::string header = header_node->text();
    for (char& c : header) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const ConfigNode* allow_missing = item.find("allow_missing");
    checks.push_back({std::move(header), Regex(regexp->text()),
                      allow_missing != nullptr && allow_missing->text() == "true"});
  }
  return checks;
}

JsonAssertion JsonAssertion::parse(const ConfigNode& node) {
  const ConfigNode* path = node.find("path");
  if (path == nullptr || !path->isScalar()) {
    throw std::invalid_argument("each assertion needs a path, e.g. { path: $.status, equals: UP }");
  }
  JsonAssertion assertion;
  assertion.path_ = path->text();
  assertion.json_path_ = JsonPath::parse(assertion.path_);
  int operators = 0;
  for (const auto& [key, value] : node.entries()) {
    if (key == "path") {
      continue;
    }
    if (!value.isScalar()) {
      throw std::invalid_argument(key + ": expected a scalar");
    }
    ++operators;
    assertion.expected_ = value.text();
    if (key == "equals") {
      assertion.kind_ = Kind::Equals;
    } else if (key == "matches") {
      assertion.kind_ = Kind::Matches;
      assertion.regex_ = std::make_shared<Regex>(assertion.expected_);
    } else if (key == "less_than" || key == "greater_than") {
      assertion.kind_ = key == "less_than" ? Kind::LessThan : Kind::GreaterThan;
      char* end = nullptr;
      assertion.number_ = std::strtod(assertion.expected_.c_str(), &end);
      if (assertion.expected_.empty() || *end != '\0') {
        throw std::invalid_argument(key + ": expected a number, got '" + assertion.expected_ + "'");
      }
    } else {
      throw std::invalid_argument("unknown key '" + key +
                                  "' (allowed: path, equals, matches, less_than, greater_than)");
    }
  }
  if (operators != 1) {
    throw std::invalid_argument("assertion on " + assertion.path_ +
                                " needs exactly one of equals, matches, less_than, greater_than");
  }
  return assertion;
}

std::string JsonAssertion::describe() const {
  switch (kind_) {
    case Kind::Equals:
      return path_ + " == " + expected_;
    case Kind::Matches:
      return path_ + " =~ " + expected_;
    case Kind::LessThan:
      return path_ + " < " + expected_;
    case Kind::GreaterThan:
      return path_ + " > " + expected_;
  }
  return path_;
}

std::optional<std::string> JsonAssertion::check(const nlohmann::json& document) const {
  const nlohmann::json* value = json_path_.find(document);
  if (value == nullptr) {
    return path_ + " not found";
  }
  const std::string actual = JsonPath::textOf(*value);
  bool holds = false;
  switch (kind_) {
    case Kind::Equals:
      holds = actual == expected_;
      break;
    case Kind::Matches:
      holds = regex_->search(actual);
      break;
    case Kind::LessThan:
    case Kind::GreaterThan:
      if (!value->is_number()) {
        return path_ + " is " + cutText(actual, kMaxShownValueBytes) + ", not a number";
      }
      holds =
          kind_ == Kind::LessThan ? value->get<double>() < number_ : value->get<double>() > number_;
      break;
  }
  if (holds) {
    return std::nullopt;
  }
  // A value from the target may be megabytes long: the message shows its start.
  return "expected " + describe() + ", got " + cutText(actual, kMaxShownValueBytes);
}

nlohmann::json parseBoundedJson(std::string_view body) {
  if (jsonNestedDeeperThan(body)) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return nlohmann::json::parse(body, nullptr, false);
}

std::optional<JsonFailure> checkJson(std::string_view body,
                                     const std::vector<JsonAssertion>& assertions) {
  if (jsonNestedDeeperThan(body)) {
    return JsonFailure{"json_too_deep", "body nests arrays or objects deeper than " +
                                            std::to_string(kMaxJsonDepth) + " levels"};
  }
  const nlohmann::json document = nlohmann::json::parse(body, nullptr, false);
  if (document.is_discarded()) {
    return JsonFailure{"json_assertion", "body is not valid JSON"};
  }
  std::string failures;
  for (const JsonAssertion& assertion : assertions) {
    if (auto failure = assertion.check(document)) {
      failures += (failures.empty() ? "" : "; ") + *failure;
    }
  }
  if (failures.empty()) {
    return std::nullopt;
  }
  return JsonFailure{"json_assertion", failures};
}

JsonPath JsonPath::parse(const std::string& path) {
  JsonPath parsed;
  parsed.path_ = path;
  parsed.steps_ = parsePath(path);
  return parsed;
}

const nlohmann::json* JsonPath::find(const nlohmann::json& document) const {
  const nlohmann::json* value = &document;
  for (const Step& step : steps_) {
    if (step.index) {
      if (!value->is_array() || *step.index >= value->size()) {
        return nullptr;
      }
      value = &(*value)[*step.index];
    } else {
      if (!value->is_object() || !value->contains(step.key)) {
        return nullptr;
      }
      value = &(*value)[step.key];
    }
  }
  return value;
}

// Strings as they are, everything else in its JSON form, so `equals: UP` and `equals: 3` work.
std::string JsonPath::textOf(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

/// The first header or body regex that fails, if any.
std::optional<ProbeResult> firstRegexFailure(const std::vector<HeaderCheck>& header_matches,
                                             const std::vector<HeaderCheck>& header_not_matches,
                                             const std::vector<Regex>& body_matches,
                                             const std::vector<Regex>& body_not_matches,
                                             const Headers& headers, std::string_view body) {
  auto header_values = [&headers](const std::string& name) {
    std::vector<const std::string*> values;
    for (const auto& [key, value] : headers) {
      if (key == name) {
        values.push_back(&value);
      }
    }
    return values;
  };
  for (const HeaderCheck& check : header_matches) {
    for (const std::string* value : header_values(check.header)) {
      if (check.regex.search(*value)) {
        return ProbeResult::critical(
            "header_regex", "header " + check.header + " matches " + check.regex.pattern());
      }
    }
  }
  for (const HeaderCheck& check : header_not_matches) {
    const auto values = header_values(check.header);
    if (values.empty() && check.allow_missing) {
      continue;
    }
    const bool matched = std::any_of(values.begin(), values.end(),
                                     [&](const std::string* v) { return check.regex.search(*v); });
    if (!matched) {
      return ProbeResult::critical(
          "header_regex",
          values.empty() ? "header " + check.header + " is missing"
                         : "header " + check.header + " does not match " + check.regex.pattern());
    }
  }
  for (const Regex& regex : body_matches) {
    if (regex.search(body)) {
      return ProbeResult::critical("body_regex", "body matches " + regex.pattern());
    }
  }
  for (const Regex& regex : body_not_matches) {
    if (!regex.search(body)) {
      return ProbeResult::critical("body_regex", "body does not match " + regex.pattern());
    }
  }
  return std::nullopt;
}

}  // namespace vigie::probes
