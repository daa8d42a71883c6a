// SPDX-License-Identifier: Apache-2.0
#include "config/section_reader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <set>

#include "config/yaml_parse.h"
#include "util/bounded_file.h"
#include "util/duration.h"

namespace vigie {

namespace fs = std::filesystem;

namespace {

std::size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Values that go into a request line, a header or a connection string: a line break in them
// injects a header or a parameter. (A command's arguments and env values reach execve as they
// are: a multi-line script argument is fine there; a NUL, refused everywhere, is not.)
bool singleLine(const std::string& path) {
  static const std::set<std::string> kKeys{"url",
                                           "proxy_url",
                                           "no_proxy",
                                           "headers",
                                           "password",
                                           "username",
                                           "user",
                                           "basic_auth_username",
                                           "basic_auth_password",
                                           "bearer_token",
                                           "token",
                                           "hmac_secret",
                                           "host",
                                           "address",
                                           "method",
                                           "dsn",
                                           "connection_string",
                                           "dbname",
                                           "bind_dn",
                                           "server_name",
                                           "tls_server_name",
                                           "name"};
  std::string key = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
  if (key.size() > 5 && key.compare(key.size() - 5, 5, "_file") == 0) {
    key.resize(key.size() - 5);  // a secret read from a file: the secret's own key decides
  }
  return kKeys.count(key) != 0 || (key.size() > 4 && key.compare(key.size() - 4, 4, "_url") == 0);
}

}  // namespace

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) {
    text += (text.empty() ? "" : ", ") + item;
  }
  return text;
}

ConfigLocation SectionReader::locate(const YAML::Node& node) const {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) {
    return {file_, 0, 0};
  }
  return {file_, mark.line + 1, mark.column + 1};
}

void SectionReader::report(const YAML::Node& node, const std::string& path,
                           const std::string& message) const {
  issues_->push_back({locate(node), path, message});
}

bool SectionReader::checkMapping(const YAML::Node& node, const std::string& path,
                                 const std::vector<std::string>& allowed) const {
  if (!node.IsMap()) {
    report(node, path, "expected a mapping of keys to values");
    return false;
  }
  for (const auto& item : node) {
    const std::string key = item.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    std::string message = "unknown key";
    const auto closest = std::min_element(allowed.begin(), allowed.end(),
                                          [&key](const std::string& a, const std::string& b) {
                                            return editDistance(key, a) < editDistance(key, b);
                                          });
    if (closest != allowed.end() && editDistance(key, *closest) <= 2) {
      message += " (did you mean '" + *closest + "'?)";
    } else {
      message += " (allowed: " + joined(allowed) + ")";
    }
    report(item.first, path.empty() ? key : path + "." + key, message);
  }
  return true;
}

std::optional<std::string> SectionReader::expandEnvironment(const YAML::Node& node,
                                                            const std::string& path,
                                                            const std::string& text) const {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = text.find("${", pos);
    if (start == std::string::npos) {
      out += text.substr(pos);
      break;
    }
    if (start > 0 && text[start - 1] == '$') {  // "$${" is a literal "${"
      out += text.substr(pos, start - pos - 1) + "${";
      pos = start + 2;
      continue;
    }
    const std::size_t end = text.find('}', start);
    if (end == std::string::npos) {
      report(node, path, "unterminated ${...} reference");
      return std::nullopt;
    }
    out += text.substr(pos, start - pos);
    const std::string variable = text.substr(start + 2, end - start - 2);
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) {
      report(node, path, "environment variable " + variable + " is not set");
      return std::nullopt;
    }
    out += value;
    pos = end + 1;
  }
  return out;
}

bool SectionReader::refuseControlBytes(const YAML::Node& node, const std::string& path,
                                       const std::string& text, bool single_line) const {
  if (text.find('\0') != std::string::npos) {
    report(node, path, "contains a NUL byte");
    return true;
  }
  if (single_line && text.find_first_of("\r\n") != std::string::npos) {
    report(node, path, "contains a line break (CR or LF), which would inject into the request");
    return true;
  }
  return false;
}

std::optional<ConfigValue> SectionReader::convert(const YAML::Node& node, const std::string& path,
                                                  FieldType type) const {
  auto value = convertValue(node, path, type);
  if (!value) {
    return value;
  }
  bool refused = false;
  // A map's entries (headers, env) are single-line when the map is.
  const bool single_line = singleLine(path);
  if (const auto* text = std::get_if<std::string>(&*value)) {
    refused = refuseControlBytes(node, path, *text, single_line);
  } else if (const auto* items = std::get_if<std::vector<std::string>>(&*value)) {
    for (const std::string& item : *items) {
      refused = refused || refuseControlBytes(node, path, item, single_line);
    }
  } else if (const auto* pairs =
                 std::get_if<std::vector<std::pair<std::string, std::string>>>(&*value)) {
    for (const auto& [key, item] : *pairs) {
      refused = refused || refuseControlBytes(node, path, key, single_line) ||
                refuseControlBytes(node, path + "." + key, item, single_line);
    }
  }
  if (refused) {
    return std::nullopt;
  }
  return value;
}

std::optional<ConfigValue> SectionReader::convertValue(const YAML::Node& node,
                                                       const std::string& path,
                                                       FieldType type) const {
  auto scalar = [&]() -> const std::string* {
    if (!node.IsScalar()) {
      report(node, path, "expected a " + std::string(fieldTypeName(type)));
      return nullptr;
    }
    return &node.Scalar();
  };
  switch (type) {
    case FieldType::String:
    case FieldType::Secret:
      if (const std::string* text = scalar()) {
        if (auto expanded = expandEnvironment(node, path, *text)) {
          return *expanded;
        }
      }
      return std::nullopt;
    case FieldType::Int: {
      const std::string* text = scalar();
      if (text == nullptr) {
        return std::nullopt;
      }
      std::int64_t value = 0;
      const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
      if (ec != std::errc() || end != text->data() + text->size()) {
        report(node, path, "expected an integer, got '" + *text + "'");
        return std::nullopt;
      }
      return value;
    }
    case FieldType::Float: {
      const std::string* text = scalar();
      if (text == nullptr) {
        return std::nullopt;
      }
      char* end = nullptr;
      const double value = std::strtod(text->c_str(), &end);
      if (text->empty() || end != text->c_str() + text->size()) {
        report(node, path, "expected a number, got '" + *text + "'");
        return std::nullopt;
      }
      return value;
    }
    case FieldType::Bool: {
      const std::string* text = scalar();
      if (text == nullptr) {
        return std::nullopt;
      }
      if (*text == "true") {
        return true;
      }
      if (*text == "false") {
        return false;
      }
      report(node, path, "expected true or false, got '" + *text + "'");
      return std::nullopt;
    }
    case FieldType::Duration: {
      const std::string* text = scalar();
      if (text == nullptr) {
        return std::nullopt;
      }
      const auto value = parseDuration(*text);
      if (!value) {
        report(node, path,
               "invalid duration '" + *text + "' (write it like 500ms, 30s, 1m30s or 2h)");
        return std::nullopt;
      }
      return *value;
    }
    case FieldType::StringList: {
      if (node.IsScalar()) {
        return std::vector<std::string>{node.Scalar()};
      }
      if (!node.IsSequence()) {
        report(node, path, "expected a list of strings");
        return std::nullopt;
      }
      std::vector<std::string> items;
      for (std::size_t i = 0; i < node.size(); ++i) {
        if (!node[i].IsScalar()) {
          report(node[i], path + "[" + std::to_string(i) + "]", "expected a string");
          return std::nullopt;
        }
        items.push_back(node[i].Scalar());
      }
      return items;
    }
    case FieldType::StringMap: {
      if (!node.IsMap()) {
        report(node, path, "expected a mapping of strings to strings");
        return std::nullopt;
      }
      std::vector<std::pair<std::string, std::string>> items;
      for (const auto& item : node) {
        if (!item.second.IsScalar()) {
          report(item.second, path + "." + item.first.Scalar(), "expected a string");
          return std::nullopt;
        }
        // Values expand ${ENV} like strings do: maps carry secrets (e.g. a plugin's env).
        auto value =
            expandEnvironment(item.second, path + "." + item.first.Scalar(), item.second.Scalar());
        if (!value) {
          return std::nullopt;
        }
        items.emplace_back(item.first.Scalar(), std::move(*value));
      }
      return items;
    }
    case FieldType::Node:
      return toConfigNode(node, file_);
  }
  return std::nullopt;
}

bool SectionReader::bothSecretForms(const YAML::Node& parent, const std::string& key_path,
                                    const std::string& key) const {
  const YAML::Node value_file = parent[key + "_file"];
  if (parent[key] && value_file) {
    report(value_file, key_path + "." + key + "_file",
           "set either " + key + " or " + key + "_file, not both");
    return true;
  }
  return false;
}

std::string SectionReader::resolvePath(const std::string& name) const {
  return name.empty() || fs::path(name).is_absolute() ? name : (base_dir_ / name).string();
}

std::optional<std::string> SectionReader::secretFromFile(const YAML::Node& value_file,
                                                         const std::string& key_path) const {
  const auto name = convert(value_file, key_path, FieldType::String);
  if (!name) {
    return std::nullopt;
  }
  const fs::path secret_file(resolvePath(std::get<std::string>(*name)));
  std::string error;
  auto secret = readRegularFile(secret_file.string(), kMaxSecretFileBytes, error);
  if (!secret) {
    report(value_file, key_path, error);
    return std::nullopt;
  }
  // Files written by editors or `echo` end with a newline that is not part of the secret.
  while (!secret->empty() && (secret->back() == '\n' || secret->back() == '\r')) {
    secret->pop_back();
  }
  if (refuseControlBytes(value_file, key_path, *secret, singleLine(key_path))) {
    return std::nullopt;
  }
  return secret;
}

std::string SectionReader::secret(const YAML::Node& parent, const std::string& key_path,
                                  const std::string& key) const {
  if (bothSecretForms(parent, key_path, key)) {
    return {};
  }
  if (const YAML::Node value = parent[key]) {
    auto secret = convert(value, key_path + "." + key, FieldType::Secret);
    return secret ? std::get<std::string>(*secret) : std::string();
  }
  if (const YAML::Node value_file = parent[key + "_file"]) {
    return secretFromFile(value_file, key_path + "." + key + "_file").value_or("");
  }
  return {};
}

}  // namespace vigie
