// SPDX-License-Identifier: Apache-2.0
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigie/config_node.h"
#include "vigie/probe.h"

namespace vigie::probes {

/// A compiled PCRE2 pattern. PCRE2 rather than std::regex: libstdc++'s matcher recurses per
/// character and overflows the stack on multi-megabyte bodies.
class Regex {
 public:
  /// Throws std::invalid_argument with PCRE2's message and offset.
  explicit Regex(const std::string& pattern);
  bool search(std::string_view text) const;
  /// The first capture group of the first match (the whole match without groups); nullopt
  /// when nothing matches.
  std::optional<std::string> capture(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Free {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
  };
  std::string pattern_;
  std::unique_ptr<pcre2_code, Free> code_;
};

/// HTTP status codes accepted as success: single codes and inclusive ranges.
class StatusCodeSet {
 public:
  /// From a config list of codes (200) and ranges ("200-299"); throws std::invalid_argument.
  static StatusCodeSet parse(const ConfigNode& node);
  static StatusCodeSet successOnly() { return StatusCodeSet({{200, 299}}); }
  bool contains(long code) const;

 private:
  explicit StatusCodeSet(std::vector<std::pair<long, long>> ranges) : ranges_(std::move(ranges)) {}
  std::vector<std::pair<long, long>> ranges_;
};

/// A header regex check, as blackbox's fail_if_header_(not_)matches.
struct HeaderCheck {
  std::string header;  ///< lower case
  Regex regex;
  bool allow_missing = false;
};
/// From a config list of `{header, regexp, allow_missing}`; throws std::invalid_argument.
std::vector<HeaderCheck> parseHeaderChecks(const ConfigNode& node);

/// A subset of JSONPath: `$.a.b[0]`, `$['key']`.
class JsonPath {
 public:
  /// Throws std::invalid_argument naming what is unsupported.
  static JsonPath parse(const std::string& path);
  /// The value at the path; nullptr when absent.
  const nlohmann::json* find(const nlohmann::json& document) const;
  /// Strings as they are, everything else in its JSON form.
  static std::string textOf(const nlohmann::json& value);
  const std::string& text() const { return path_; }

  struct Step {
    std::string key;
    std::optional<std::size_t> index;
  };

 private:
  std::string path_;
  std::vector<Step> steps_;
};

/// One assertion on a JSON body: `path` (subset of JSONPath: `$.a.b[0]`, `$['key']`) and one of
/// `equals` (string form of the value), `matches` (regex on that form), `less_than`,
/// `greater_than` (numbers).
class JsonAssertion {
 public:
  /// Throws std::invalid_argument naming the faulty key.
  static JsonAssertion parse(const ConfigNode& node);
  /// nullopt when `document` satisfies the assertion, else why not.
  std::optional<std::string> check(const nlohmann::json& document) const;
  std::string describe() const;

 private:
  enum class Kind { Equals, Matches, LessThan, GreaterThan };
  std::string path_;
  JsonPath json_path_;
  Kind kind_ = Kind::Equals;
  std::string expected_;
  double number_ = 0;
  std::shared_ptr<Regex> regex_;
};

/// Why the JSON assertions failed: the reason word (json_assertion, json_too_deep) and message.
struct JsonFailure {
  std::string reason;
  std::string message;
};

/// Parses `body` as JSON and runs every assertion; nullopt when all hold, else every failure
/// joined by "; " (a health document's DOWN components are all named). A body nested deeper
/// than kMaxJsonDepth fails as json_too_deep without being parsed.
std::optional<JsonFailure> checkJson(std::string_view body,
                                     const std::vector<JsonAssertion>& assertions);

/// `body` parsed, discarded when it is not JSON or nests deeper than kMaxJsonDepth.
nlohmann::json parseBoundedJson(std::string_view body);

/// Response headers, names lower case, in order.
using Headers = std::vector<std::pair<std::string, std::string>>;

/// The first failing fail_if_header_(not_)matches or fail_if_body_(not_)matches check, as a
/// Critical result (reason header_regex or body_regex); nullopt when all hold.
std::optional<ProbeResult> firstRegexFailure(const std::vector<HeaderCheck>& header_matches,
                                             const std::vector<HeaderCheck>& header_not_matches,
                                             const std::vector<Regex>& body_matches,
                                             const std::vector<Regex>& body_not_matches,
                                             const Headers& headers, std::string_view body);

}  // namespace vigie::probes
