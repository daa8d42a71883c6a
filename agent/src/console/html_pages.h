// SPDX-License-Identifier: Apache-2.0
#pragma once

// The operator console's HTML: pure functions from the /api/v1 JSON documents (docs/API.md) to
// server-rendered pages, so the page shows exactly what the API says and needs no JavaScript.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/html_escape.h"

namespace vigie {

enum class PageLanguage { kFrench, kEnglish };

/// French unless `?lang=en` (an explicit choice wins) or Accept-Language prefers English.
PageLanguage pickLanguage(std::string_view lang_parameter, std::string_view accept_language);

/// %XX sequences decoded; `+` is a space in forms and query strings, itself in paths.
std::string percentDecode(std::string_view raw, bool plus_is_space);
/// Decoded `name=value` pairs of a query string or an x-www-form-urlencoded body, in order.
using FormFields = std::vector<std::pair<std::string, std::string>>;
FormFields parseFormFields(std::string_view encoded);
/// The first value of `name`, empty when absent.
std::string formField(const FormFields& fields, std::string_view name);

/// Percent-encodes everything but RFC 3986's unreserved characters (for paths and queries).
std::string urlEncode(std::string_view text);

/// What a page needs besides the API document: who looks, in which language, and what to say.
struct PageContext {
  PageLanguage language = PageLanguage::kFrench;
  /// Set when the language came from `?lang=`: links and forms carry it on.
  bool language_in_query = false;
  std::string user;  ///< empty when the endpoint has no authentication
  bool is_operator = false;
  std::string csrf_token;  ///< the hidden field of every action form
  /// The page's query fields (the status page's filters, `done=` after an action).
  FormFields query;
};

/// Rows of the status page at once; the others are on the next pages (`page=N`).
inline constexpr std::size_t kStatusRowsPerPage = 500;
/// The page asked by `page=`, within 1 .. the last page of `total` rows.
std::size_t statusPageNumber(const FormFields& query, std::size_t total);

/// `/`: the probes of a `GET /api/v1/probes` document, filters, counts, one page of rows;
/// grouped by `group=<label>` when asked. The document may hold the whole list, or one page of
/// it with `total` and `offset` (Console::probesText with a limit).
std::string renderStatusPage(const nlohmann::json& probes_doc, const PageContext& context);
/// `/probes/{name}`: a `GET /api/v1/probes/{name}` document, with the action forms for operators.
std::string renderProbePage(const nlohmann::json& probe_doc, const PageContext& context);
/// A page for a refusal or an unknown probe, in the console's layout.
std::string renderMessagePage(int status, std::string_view message, const PageContext& context);

/// The stylesheet every page links to, served at kConsoleCssPath.
extern const std::string_view kConsoleCss;
/// Versioned: a new stylesheet gets a new path, so browsers may cache it for long.
extern const std::string_view kConsoleCssPath;

/// The status-page filters that are /api/v1/probes query parameters, in the API's form
/// (`status=a,b` once, labels repeated): what the page passes to the probe list.
FormFields apiProbeFilters(const FormFields& page_query);

}  // namespace vigie
