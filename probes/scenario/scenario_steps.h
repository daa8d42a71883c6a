// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "http/http_checks.h"
#include "scenario/html_page.h"
#include "vigie/config_node.h"

namespace vigie::probes::scenario {

using Variables = std::map<std::string, std::string, std::less<>>;

/// Text with `{{name}}` references to the run's variables, checked against the names known at
/// that point of the scenario when the configuration is read.
class Template {
 public:
  /// Throws std::invalid_argument on an unknown name or an unclosed `{{`.
  static Template parse(const std::string& text, const std::set<std::string>& known);
  std::string render(const Variables& variables) const;

 private:
  struct Part {
    bool variable = false;
    std::string text;
  };
  std::vector<Part> parts_;
};

/// A value taken from a step's answer into a variable for the following steps.
struct Extraction {
  enum class Source { Regex, Json, XPath, Header, Cookie };
  std::string variable;
  Source source = Source::Regex;
  std::string expression;  ///< as written, for messages; header names lower case
  std::optional<Regex> regex;
  std::optional<JsonPath> json;
  std::optional<XPath> xpath;
};

/// An assertion on an HTML (or XML) answer: what the expression selects exists, is absent,
/// equals a text or matches a regex.
struct XPathAssertion {
  enum class Kind { Exists, Absent, Equals, Matches };
  std::optional<XPath> path;
  Kind kind = Kind::Exists;
  std::string expected;
  std::optional<Regex> regex;

  /// nullopt when it holds, else why not.
  std::optional<std::string> check(const HtmlPage& page) const;
};

using Fields = std::vector<std::pair<std::string, Template>>;

struct Step {
  std::string name;
  std::string method;  ///< empty: the form's, else POST with fields or body, else GET
  std::optional<Template> url;
  std::optional<FormSelector> form;  ///< submit a form of the previous step's page
  Fields headers;
  Fields query;
  Fields fields;  ///< form-urlencoded body (or the form's values)
  std::optional<Template> body;
  bool follow_redirects = true;
  long max_redirects = 10;
  StatusCodeSet valid_status = StatusCodeSet::successOnly();
  std::vector<Regex> fail_if_body_matches;
  std::vector<Regex> fail_if_body_not_matches;
  std::vector<HeaderCheck> fail_if_header_matches;
  std::vector<HeaderCheck> fail_if_header_not_matches;
  std::vector<JsonAssertion> json;
  std::vector<XPathAssertion> xpath;
  std::vector<Extraction> extract;
};

/// `text` with its runs of white space made single spaces, cut after `limit` characters: how a
/// page's content appears in a one-line message.
std::string oneLine(std::string_view text, std::size_t limit);

/// Step names are metric label values: bounded in number and charset.
inline constexpr std::size_t kMaxSteps = 20;

/// Parses the `steps` list. `known` holds the variables defined before the first step; each
/// step's extractions become known to the steps after it. Throws std::invalid_argument with
/// "steps[i] (name): key: message".
std::vector<Step> parseSteps(const ConfigNode& node, std::set<std::string> known);

}  // namespace vigie::probes::scenario
