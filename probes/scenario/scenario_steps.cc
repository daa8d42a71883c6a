// SPDX-License-Identifier: Apache-2.0
#include "scenario/scenario_steps.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace vigie::probes::scenario {
namespace {

bool validName(const std::string& name) {
  return !name.empty() && name.size() <= 40 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

const std::string& scalar(const ConfigNode& node, const std::string& key) {
  if (!node.isScalar()) {
    throw std::invalid_argument(key + ": expected a scalar");
  }
  return node.text();
}

bool boolean(const ConfigNode& node, const std::string& key) {
  const std::string& text = scalar(node, key);
  if (text != "true" && text != "false") {
    throw std::invalid_argument(key + ": expected true or false, got '" + text + "'");
  }
  return text == "true";
}

long number(const ConfigNode& node, const std::string& key) {
  const std::string& text = scalar(node, key);
  long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    throw std::invalid_argument(key + ": expected a number >= 0, got '" + text + "'");
  }
  return value;
}

std::vector<std::string> strings(const ConfigNode& node, const std::string& key) {
  if (node.isScalar()) {
    return {node.text()};
  }
  if (!node.isSequence()) {
    throw std::invalid_argument(key + ": expected a string or a list of strings");
  }
  std::vector<std::string> out;
  for (const ConfigNode& item : node.items()) {
    out.push_back(scalar(item, key));
  }
  return out;
}

std::vector<Regex> regexes(const ConfigNode& node, const std::string& key) {
  std::vector<Regex> out;
  for (const std::string& pattern : strings(node, key)) {
    try {
      out.emplace_back(pattern);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(key + ": " + e.what());
    }
  }
  return out;
}

Fields templates(const ConfigNode& node, const std::string& key,
                 const std::set<std::string>& known) {
  if (!node.isMap()) {
    throw std::invalid_argument(key + ": expected a map of names to values");
  }
  Fields out;
  for (const auto& [name, value] : node.entries()) {
    try {
      out.emplace_back(name, Template::parse(value.isNull() ? "" : scalar(value, name), known));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(key + "." + e.what());
    }
  }
  return out;
}

void onlyKeys(const ConfigNode& node, const std::string& what,
              std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : node.entries()) {
    if (std::none_of(allowed.begin(), allowed.end(), [&key](const char* a) { return key == a; })) {
      std::string list;
      for (const char* a : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      throw std::invalid_argument(what + ": unknown key '" + key + "' (allowed: " + list + ")");
    }
  }
}

FormSelector parseForm(const ConfigNode& node) {
  FormSelector selector;
  if (node.isNull()) {
    return selector;
  }
  if (!node.isMap()) {
    throw std::invalid_argument("form: expected {id, name, action, index} (or {} for the first)");
  }
  onlyKeys(node, "form", {"id", "name", "action", "index"});
  for (const auto& [key, value] : node.entries()) {
    if (key == "id") {
      selector.id = scalar(value, "form.id");
    } else if (key == "name") {
      selector.name = scalar(value, "form.name");
    } else if (key == "action") {
      selector.action.emplace(scalar(value, "form.action"));
    } else {
      selector.index = static_cast<std::size_t>(number(value, "form.index"));
    }
  }
  return selector;
}

std::vector<XPathAssertion> parseXPathAssertions(const ConfigNode& node) {
  if (!node.isSequence()) {
    throw std::invalid_argument("xpath: expected a list of {path, exists|absent|equals|matches}");
  }
  std::vector<XPathAssertion> out;
  for (const ConfigNode& item : node.items()) {
    const ConfigNode* path = item.find("path");
    if (!item.isMap() || path == nullptr || item.size() != 2) {
      throw std::invalid_argument(
          "xpath: each entry is {path, and one of exists: true, absent: true, equals, matches}");
    }
    onlyKeys(item, "xpath", {"path", "exists", "absent", "equals", "matches"});
    XPathAssertion assertion;
    assertion.path.emplace(scalar(*path, "xpath.path"));
    for (const auto& [key, value] : item.entries()) {
      if (key == "exists" || key == "absent") {
        if (!boolean(value, "xpath." + key)) {
          throw std::invalid_argument("xpath." + key + ": only true is meaningful");
        }
        assertion.kind =
            key == "exists" ? XPathAssertion::Kind::Exists : XPathAssertion::Kind::Absent;
      } else if (key == "equals") {
        assertion.kind = XPathAssertion::Kind::Equals;
        assertion.expected = scalar(value, "xpath.equals");
      } else if (key == "matches") {
        assertion.kind = XPathAssertion::Kind::Matches;
        assertion.regex.emplace(scalar(value, "xpath.matches"));
      }
    }
    out.push_back(std::move(assertion));
  }
  return out;
}

std::vector<Extraction> parseExtractions(const ConfigNode& node) {
  if (!node.isSequence()) {
    throw std::invalid_argument(
        "extract: expected a list of {var, and one of regex, json, xpath, header, cookie}");
  }
  std::vector<Extraction> out;
  for (const ConfigNode& item : node.items()) {
    const ConfigNode* variable = item.find("var");
    if (!item.isMap() || variable == nullptr || item.size() != 2) {
      throw std::invalid_argument(
          "extract: each entry is {var, and one of regex, json, xpath, header, cookie}");
    }
    onlyKeys(item, "extract", {"var", "regex", "json", "xpath", "header", "cookie"});
    Extraction extraction;
    extraction.variable = scalar(*variable, "extract.var");
    if (!validName(extraction.variable)) {
      throw std::invalid_argument("extract.var: '" + extraction.variable +
                                  "' is not a name (letters, digits, - _ .)");
    }
    for (const auto& [key, value] : item.entries()) {
      if (key == "var") {
        continue;
      }
      extraction.expression = scalar(value, "extract." + key);
      if (key == "regex") {
        extraction.source = Extraction::Source::Regex;
        extraction.regex.emplace(extraction.expression);
      } else if (key == "json") {
        extraction.source = Extraction::Source::Json;
        extraction.json = JsonPath::parse(extraction.expression);
      } else if (key == "xpath") {
        extraction.source = Extraction::Source::XPath;
        extraction.xpath.emplace(extraction.expression);
      } else if (key == "header") {
        extraction.source = Extraction::Source::Header;
        for (char& c : extraction.expression) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
      } else {
        extraction.source = Extraction::Source::Cookie;
      }
    }
    out.push_back(std::move(extraction));
  }
  return out;
}

Step parseStep(const ConfigNode& node, const std::set<std::string>& known, bool first) {
  if (!node.isMap()) {
    throw std::invalid_argument("expected a map with at least name and url (or form)");
  }
  onlyKeys(
      node, "step",
      {"name", "method", "url", "form", "headers", "query", "fields", "body", "follow_redirects",
       "max_redirects", "valid_status_codes", "fail_if_body_matches", "fail_if_body_not_matches",
       "fail_if_header_matches", "fail_if_header_not_matches", "json", "xpath", "extract"});
  Step step;
  for (const auto& [key, value] : node.entries()) {
    if (key == "name") {
      step.name = scalar(value, key);
    } else if (key == "method") {
      step.method = scalar(value, key);
      if (step.method.empty() || !std::all_of(step.method.begin(), step.method.end(),
                                              [](char c) { return std::isupper(c); })) {
        throw std::invalid_argument("method: expected an upper-case HTTP method, got '" +
                                    step.method + "'");
      }
    } else if (key == "url") {
      step.url = Template::parse(scalar(value, key), known);
    } else if (key == "form") {
      step.form = parseForm(value);
    } else if (key == "headers") {
      step.headers = templates(value, key, known);
    } else if (key == "query") {
      step.query = templates(value, key, known);
    } else if (key == "fields") {
      step.fields = templates(value, key, known);
    } else if (key == "body") {
      step.body = Template::parse(scalar(value, key), known);
    } else if (key == "follow_redirects") {
      step.follow_redirects = boolean(value, key);
    } else if (key == "max_redirects") {
      step.max_redirects = number(value, key);
    } else if (key == "valid_status_codes") {
      step.valid_status = StatusCodeSet::parse(value);
    } else if (key == "fail_if_body_matches") {
      step.fail_if_body_matches = regexes(value, key);
    } else if (key == "fail_if_body_not_matches") {
      step.fail_if_body_not_matches = regexes(value, key);
    } else if (key == "fail_if_header_matches") {
      step.fail_if_header_matches = parseHeaderChecks(value);
    } else if (key == "fail_if_header_not_matches") {
      step.fail_if_header_not_matches = parseHeaderChecks(value);
    } else if (key == "json") {
      if (!value.isSequence()) {
        throw std::invalid_argument("json: expected a list of {path, equals|matches|...}");
      }
      for (const ConfigNode& item : value.items()) {
        step.json.push_back(JsonAssertion::parse(item));
      }
    } else if (key == "xpath") {
      step.xpath = parseXPathAssertions(value);
    } else if (key == "extract") {
      step.extract = parseExtractions(value);
    }
  }
  if (!validName(step.name)) {
    throw std::invalid_argument("name: required, letters, digits, - _ . (at most 40), got '" +
                                step.name + "'");
  }
  if (step.url.has_value() == step.form.has_value()) {
    throw std::invalid_argument("set either url or form (a form of the previous step's page)");
  }
  if (step.form && first) {
    throw std::invalid_argument("form: the first step has no previous page to take a form from");
  }
  if (step.form && step.body) {
    throw std::invalid_argument("body: a form step sends the form's fields");
  }
  if (!step.fields.empty() && step.body) {
    throw std::invalid_argument("set either fields or body, not both");
  }
  return step;
}

}  // namespace

Template Template::parse(const std::string& text, const std::set<std::string>& known) {
  Template parsed;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      parsed.parts_.push_back({false, text.substr(pos)});
      break;
    }
    if (open > pos) {
      parsed.parts_.push_back({false, text.substr(pos, open - pos)});
    }
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) {
      throw std::invalid_argument("'" + text + "': unclosed {{");
    }
    std::string name = text.substr(open + 2, close - open - 2);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (known.count(name) == 0) {
      std::string names;
      for (const std::string& k : known) {
        names += (names.empty() ? "" : ", ") + k;
      }
      throw std::invalid_argument("'" + text + "': unknown variable '" + name +
                                  "' (known here: " + (names.empty() ? "none" : names) + ")");
    }
    parsed.parts_.push_back({true, std::move(name)});
    pos = close + 2;
  }
  return parsed;
}

std::string Template::render(const Variables& variables) const {
  std::string out;
  for (const Part& part : parts_) {
    if (!part.variable) {
      out += part.text;
    } else if (auto found = variables.find(part.text); found != variables.end()) {
      out += found->second;
    }
  }
  return out;
}

std::string oneLine(std::string_view text, std::size_t limit) {
  std::string line;
  for (char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space || (!line.empty() && line.back() != ' ')) {
      line += space ? ' ' : c;
    }
  }
  if (line.size() > limit) {
    line.resize(limit);
    line += "...";
  }
  return line;
}

std::optional<std::string> XPathAssertion::check(const HtmlPage& page) const {
  const auto result = page.evaluate(*path);
  if (!result) {
    return "XPath " + path->text() + " cannot be evaluated on this page";
  }
  const bool found = result->nodes > 0 || (!result->value.empty() && result->value != "false");
  switch (kind) {
    case Kind::Exists:
      return found ? std::nullopt
                   : std::optional<std::string>("XPath " + path->text() + " found nothing");
    case Kind::Absent:
      return !found ? std::nullopt
                    : std::optional<std::string>("XPath " + path->text() + " found " +
                                                 std::to_string(result->nodes) + " node(s)");
    case Kind::Equals:
      if (result->value == expected) {
        return std::nullopt;
      }
      return "XPath " + path->text() + " is '" + oneLine(result->value, 80) + "', expected '" +
             expected + "'";
    case Kind::Matches:
      if (regex->search(result->value)) {
        return std::nullopt;
      }
      return "XPath " + path->text() + " is '" + oneLine(result->value, 80) + "', does not match " +
             regex->pattern();
  }
  return std::nullopt;
}

std::vector<Step> parseSteps(const ConfigNode& node, std::set<std::string> known) {
  if (!node.isSequence() || node.size() == 0) {
    throw std::invalid_argument("expected a non-empty list of steps");
  }
  if (node.size() > kMaxSteps) {
    throw std::invalid_argument("at most " + std::to_string(kMaxSteps) + " steps");
  }
  std::vector<Step> steps;
  std::set<std::string> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const ConfigNode& item = node.items()[i];
    const ConfigNode* name = item.find("name");
    std::string where = "[";
    where += std::to_string(i);
    where += "]";
    if (name != nullptr && name->isScalar()) {
      where += " (" + name->text() + ")";
    }
    try {
      steps.push_back(parseStep(item, known, i == 0));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + ": " + e.what());
    }
    if (!names.insert(steps.back().name).second) {
      throw std::invalid_argument(where + ": name: another step has this name");
    }
    for (const Extraction& extraction : steps.back().extract) {
      known.insert(extraction.variable);
    }
  }
  return steps;
}

}  // namespace vigie::probes::scenario
