// SPDX-License-Identifier: Apache-2.0
#include "console/html_pages.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>

#include "console/html_i18n.h"

namespace vigie {
namespace {

using json = nlohmann::json;

// The labels an operator groups and filters by (docs/CONFIGURATION.md's convention).
constexpr std::array<std::string_view, 4> kFilterLabels{"app", "environment", "hosting_center",
                                                        "ci"};
constexpr std::array<std::string_view, 5> kStatuses{"critical", "unknown", "warning", "ok",
                                                    "pending"};

std::string text(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return {};
  }
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

bool flag(const json& object, std::string_view key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_boolean() && found->get<bool>();
}

const json* member(const json& object, std::string_view key) {
  const auto found = object.find(key);
  return found != object.end() && !found->is_null() ? &*found : nullptr;
}

/// Only http and https links: a `javascript:` runbook_url from a config file must not run.
bool isWebUrl(std::string_view url) {
  return url.starts_with("https://") || url.starts_with("http://");
}

std::string_view statusWord(const PageTexts& t, std::string_view status) {
  if (status == "ok") return t.status_ok;
  if (status == "warning") return t.status_warning;
  if (status == "critical") return t.status_critical;
  if (status == "unknown") return t.status_unknown;
  return t.status_pending;
}

std::string_view statusPlural(const PageTexts& t, std::string_view status) {
  if (status == "ok") return t.plural_ok;
  if (status == "warning") return t.plural_warning;
  if (status == "critical") return t.plural_critical;
  if (status == "unknown") return t.plural_unknown;
  return t.plural_pending;
}

/// The shape beside the word: the state is never told by colour alone.
std::string_view statusIcon(std::string_view status) {
  if (status == "ok") return "✔";
  if (status == "warning") return "▲";
  if (status == "critical") return "✖";
  if (status == "unknown") return "?";
  return "…";
}

std::string_view knownStatus(std::string_view status) {
  for (const std::string_view known : kStatuses) {
    if (status == known) {
      return known;
    }
  }
  return "pending";
}

std::string badge(const PageTexts& t, std::string_view raw_status) {
  const std::string_view status = knownStatus(raw_status);
  std::string out = "<span class=\"badge s-";
  out += status;
  out += "\"><span aria-hidden=\"true\">";
  out += statusIcon(status);
  out += "</span> ";
  out += statusWord(t, status);
  out += "</span>";
  return out;
}

std::string formatSeconds(const PageTexts& t, double seconds) {
  char buffer[32];
  if (seconds < 1.0) {
    std::snprintf(buffer, sizeof buffer, "%.0f ms", seconds * 1000.0);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f s", seconds);
  }
  std::string formatted = buffer;
  std::replace(formatted.begin(), formatted.end(), '.', t.decimal_separator.front());
  return formatted;
}

std::string number(const json& object, std::string_view key, const PageTexts& t) {
  const json* value = member(object, key);
  return value != nullptr && value->is_number() ? formatSeconds(t, value->get<double>())
                                                : std::string();
}

std::string historyKind(PageLanguage language, std::string_view kind) {
  static const std::map<std::string_view, std::pair<std::string_view, std::string_view>> kKinds{
      {"transition", {"Changement d'état", "State change"}},
      {"acknowledged", {"Acquittement", "Acknowledged"}},
      {"unacknowledged", {"Acquittement retiré", "Acknowledgement removed"}},
      {"silenced", {"Silence posé", "Silenced"}},
      {"unsilenced", {"Silence levé", "Silence removed"}},
      {"run", {"Exécution demandée", "Run requested"}},
      {"delivered", {"Transmis", "Delivered"}},
      {"delivery_failed", {"Échec de transmission", "Delivery failed"}},
      {"replayed", {"Renvoyé", "Replayed"}},
  };
  const auto found = kKinds.find(kind);
  if (found == kKinds.end()) {
    return htmlEscape(kind);
  }
  return std::string(language == PageLanguage::kEnglish ? found->second.second
                                                        : found->second.first);
}

/// `?lang=xx` for links when the language was chosen in the query, else nothing.
std::string languageSuffix(const PageContext& context, char separator) {
  if (!context.language_in_query) {
    return {};
  }
  return std::string(1, separator) + "lang=" + std::string(pageTexts(context.language).html_lang);
}

std::string probeHref(const PageContext& context, std::string_view name) {
  return "/probes/" + urlEncode(name) + languageSuffix(context, '?');
}

std::string pageHead(const PageContext& context, std::string_view title) {
  const PageTexts& t = pageTexts(context.language);
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"";
  out += t.html_lang;
  out +=
      "\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  out += htmlEscape(title);
  out += "</title>\n<link rel=\"stylesheet\" href=\"";
  out += kConsoleCssPath;
  out += "\">\n</head>\n<body>\n<a class=\"skip\" href=\"#contenu\">";
  out += t.skip_link;
  out += "</a>\n";
  return out;
}

/// Header, navigation and the opening of <main>. `path_query` is the current page's path and
/// query without `lang`, for the link to the other language.
std::string pageTop(const PageContext& context, std::string_view title, std::string_view agent,
                    std::string_view path_query, bool on_status_page) {
  const PageTexts& t = pageTexts(context.language);
  std::string out = pageHead(context, title);
  out += "<header class=\"top\">\n<p class=\"site\"><a href=\"/";
  out += languageSuffix(context, '?');
  out += "\">";
  out += t.site_name;
  out += "</a>";
  if (!agent.empty()) {
    out += " <span class=\"agent\">";
    out += htmlEscape(agent);
    out += "</span>";
  }
  out += "</p>\n<nav aria-label=\"";
  out += t.nav_label;
  out += "\">\n<ul>\n<li><a href=\"/";
  out += languageSuffix(context, '?');
  out += "\"";
  if (on_status_page) {
    out += " aria-current=\"page\"";
  }
  out += ">";
  out += t.nav_status;
  out += "</a></li>\n<li><a href=\"/metrics\">";
  out += t.nav_metrics;
  out += "</a></li>\n<li><a href=\"";
  const char separator = path_query.find('?') == std::string_view::npos ? '?' : '&';
  out += htmlEscape(std::string(path_query) + separator +
                    "lang=" + std::string(t.other_language_code));
  out += "\" lang=\"";
  out += t.other_language_code;
  out += "\" hreflang=\"";
  out += t.other_language_code;
  out += "\">";
  out += t.other_language_name;
  out += "</a></li>\n</ul>\n</nav>\n</header>\n<main id=\"contenu\" tabindex=\"-1\">\n";
  return out;
}

std::string pageBottom(const PageContext& context, const json& document) {
  const PageTexts& t = pageTexts(context.language);
  std::string out = "</main>\n<footer>\n<p>";
  std::string generated = text(document, "generated_at_local");
  if (generated.empty()) {
    generated = text(document, "generated_at");
  }
  if (!generated.empty()) {
    out += t.footer_generated;
    out += " ";
    out += htmlEscape(generated);
    const std::string timezone = text(document, "timezone");
    if (!timezone.empty() && generated.find(timezone) == std::string::npos) {
      out += " (";
      out += t.footer_timezone;
      out += " ";
      out += htmlEscape(timezone);
      out += ")";
    }
    out += ". ";
  }
  if (context.user.empty()) {
    out += t.footer_anonymous;
  } else {
    out += t.footer_user;
    out += " <strong>";
    out += htmlEscape(context.user);
    out += "</strong> (";
    out += context.is_operator ? t.footer_operator : t.footer_reader;
    out += ")";
  }
  out += ".</p>\n</footer>\n</body>\n</html>\n";
  return out;
}

/// The confirmation after an action's redirect, read from `done=` (a fixed word, so no text of
/// the query is ever echoed).
std::string notice(const PageContext& context) {
  const PageTexts& t = pageTexts(context.language);
  const std::string done = formField(context.query, "done");
  std::string_view message;
  if (done == "acknowledged") message = t.done_acknowledged;
  if (done == "unacknowledged") message = t.done_unacknowledged;
  if (done == "silenced") message = t.done_silenced;
  if (done == "unsilenced") message = t.done_unsilenced;
  if (done == "run") message = t.done_run;
  if (message.empty()) {
    return {};
  }
  return "<p class=\"notice\" role=\"status\"><span aria-hidden=\"true\">✔</span> " +
         std::string(message) + "</p>\n";
}

std::string labelsText(const json& probe) {
  std::string out;
  const json* labels = member(probe, "labels");
  if (labels == nullptr || !labels->is_object()) {
    return out;
  }
  for (const auto& [name, value] : labels->items()) {
    if (!value.is_string()) {
      continue;
    }
    out += "<span class=\"label\">";
    out += htmlEscape(name);
    out += "&nbsp;: ";
    out += htmlEscape(value.get<std::string>());
    out += "</span> ";
  }
  return out;
}

std::string stateTypeText(const PageTexts& t, const json& probe) {
  std::string out;
  const std::string state_type = text(probe, "state_type");
  if (state_type.empty() || text(probe, "status") == "pending") {
    return out;
  }
  out += state_type == "hard" ? "HARD" : "SOFT";
  const json* attempt = member(probe, "attempt");
  const json* max_attempts = member(probe, "max_attempts");
  if (attempt != nullptr && max_attempts != nullptr && attempt->is_number_integer() &&
      max_attempts->is_number_integer()) {
    out += " · ";
    out += t.attempt;
    out += " " + std::to_string(attempt->get<long>()) + "/" +
           std::to_string(max_attempts->get<long>());
  }
  return out;
}

/// Acknowledged, silenced, in maintenance, unreachable, flapping: as words with a shape.
std::string handlingList(const PageTexts& t, const json& probe) {
  std::string items;
  if (const json* ack = member(probe, "acknowledgement")) {
    items += "<li class=\"f-ack\"><span aria-hidden=\"true\">☑</span> ";
    items += t.flag_acknowledged;
    items += " ";
    items += t.by;
    items += " ";
    items += htmlEscape(text(*ack, "author"));
    const std::string comment = text(*ack, "comment");
    if (!comment.empty()) {
      items += "&nbsp;: « " + htmlEscape(comment) + " »";
    }
    items += "</li>";
  }
  if (const json* silence = member(probe, "silence")) {
    items += "<li class=\"f-silence\"><span aria-hidden=\"true\">⌛</span> ";
    items += t.flag_silenced_until;
    items += " ";
    items += htmlEscape(text(*silence, "ends_at_local"));
    items += " (";
    items += htmlEscape(text(*silence, "author"));
    items += ")</li>";
  }
  if (flag(probe, "in_maintenance")) {
    items += "<li><span aria-hidden=\"true\">⚙</span> ";
    items += t.flag_maintenance;
    items += "</li>";
  }
  if (flag(probe, "unreachable")) {
    items += "<li><span aria-hidden=\"true\">⊘</span> ";
    items += t.flag_unreachable;
    items += "</li>";
  }
  if (flag(probe, "flapping")) {
    items += "<li><span aria-hidden=\"true\">↯</span> ";
    items += t.flag_flapping;
    items += "</li>";
  }
  return items.empty() ? std::string() : "<ul class=\"flags\">" + items + "</ul>";
}

void probeRow(std::string& out, const PageTexts& t, const PageContext& context, const json& probe) {
  const std::string status(knownStatus(text(probe, "status")));
  const std::string name = text(probe, "name");
  out += "<tr class=\"s-";
  out += status;
  out += "\">\n<td>";
  out += badge(t, status);
  const std::string state_type = stateTypeText(t, probe);
  if (!state_type.empty()) {
    out += "<br><span class=\"minor\">" + state_type + "</span>";
  }
  out += "</td>\n<th scope=\"row\"><a href=\"";
  out += htmlEscape(probeHref(context, name));
  out += "\">";
  out += htmlEscape(name);
  out += "</a> <span class=\"minor\">";
  out += htmlEscape(text(probe, "type"));
  out += "</span><br>";
  out += labelsText(probe);
  out += "</th>\n<td>";
  out += htmlEscape(text(probe, "since_local"));
  out += "</td>\n<td>";
  const std::string reason = text(probe, "reason");
  if (!reason.empty()) {
    out += "<code>" + htmlEscape(reason) + "</code> ";
  }
  out += htmlEscape(text(probe, "message"));
  out += "</td>\n<td>";
  out += handlingList(t, probe);
  out += "</td>\n</tr>\n";
}

void probeTable(std::string& out, const PageTexts& t, const PageContext& context,
                const std::vector<const json*>& probes, const std::string& caption,
                std::size_t index) {
  const std::string caption_id = "table-" + std::to_string(index);
  // Wide tables scroll inside their own focusable region, never the page (200 % zoom).
  out += "<div class=\"table-wrap\" role=\"region\" tabindex=\"0\" aria-labelledby=\"";
  out += caption_id;
  out += "\">\n<table class=\"probes\">\n<caption id=\"";
  out += caption_id;
  out += "\">";
  out += caption;
  out += "</caption>\n<thead><tr><th scope=\"col\">";
  out += t.col_state;
  out += "</th><th scope=\"col\">";
  out += t.col_probe;
  out += "</th><th scope=\"col\">";
  out += t.col_since;
  out += "</th><th scope=\"col\">";
  out += t.col_reason_message;
  out += "</th><th scope=\"col\">";
  out += t.col_flags;
  out += "</th></tr></thead>\n<tbody>\n";
  for (const json* probe : probes) {
    probeRow(out, t, context, *probe);
  }
  out += "</tbody>\n</table>\n</div>\n";
}

std::vector<std::string> statusFilter(const FormFields& query) {
  std::vector<std::string> statuses;
  for (const auto& [name, value] : query) {
    if (name != "status") {
      continue;
    }
    std::size_t start = 0;
    while (start <= value.size()) {
      const std::size_t comma = std::min(value.find(',', start), value.size());
      if (comma > start) {
        statuses.push_back(value.substr(start, comma - start));
      }
      start = comma + 1;
    }
  }
  return statuses;
}

void filterForm(std::string& out, const PageTexts& t, const PageContext& context) {
  const std::vector<std::string> statuses = statusFilter(context.query);
  out += "<section aria-labelledby=\"filters-h\" class=\"filters\">\n<h2 id=\"filters-h\">";
  out += t.filters_heading;
  out +=
      "</h2>\n<form method=\"get\" action=\"/\" role=\"search\" aria-labelledby=\"filters-h\">\n";
  if (context.language_in_query) {
    out += "<input type=\"hidden\" name=\"lang\" value=\"";
    out += pageTexts(context.language).html_lang;
    out += "\">\n";
  }
  out += "<fieldset class=\"statuses\"><legend>";
  out += t.filter_status;
  out += "</legend>\n";
  for (const std::string_view status : kStatuses) {
    const bool checked = std::find(statuses.begin(), statuses.end(), status) != statuses.end();
    out += "<span class=\"check\"><input type=\"checkbox\" name=\"status\" id=\"f-status-";
    out += status;
    out += "\" value=\"";
    out += status;
    out += checked ? "\" checked>" : "\">";
    out += "<label for=\"f-status-";
    out += status;
    out += "\">";
    out += statusWord(t, status);
    out += "</label></span>\n";
  }
  const bool problems = formField(context.query, "problems") == "1";
  out +=
      "<span class=\"check\"><input type=\"checkbox\" name=\"problems\" id=\"f-problems\" "
      "value=\"1\"";
  out += problems ? " checked>" : ">";
  out += "<label for=\"f-problems\">";
  out += t.filter_problems;
  out += "</label></span>\n</fieldset>\n<div class=\"fields\">\n";
  const auto textField = [&out, &context](std::string_view name, std::string_view id,
                                          std::string_view label) {
    out += "<p><label for=\"";
    out += id;
    out += "\">";
    out += label;
    out += "</label> <input type=\"text\" name=\"";
    out += name;
    out += "\" id=\"";
    out += id;
    out += "\" value=\"";
    out += htmlEscape(formField(context.query, name));
    out += "\"></p>\n";
  };
  textField("q", "f-q", t.filter_name);
  for (const std::string_view label : kFilterLabels) {
    textField("label." + std::string(label), "f-label-" + std::string(label), label);
  }
  const std::string group = formField(context.query, "group");
  out += "<p><label for=\"f-group\">";
  out += t.filter_group;
  out += "</label> <select name=\"group\" id=\"f-group\">\n<option value=\"\">";
  out += t.filter_group_none;
  out += "</option>\n";
  for (const std::string_view label : kFilterLabels) {
    out += "<option value=\"";
    out += label;
    out += group == label ? "\" selected>" : "\">";
    out += label;
    out += "</option>\n";
  }
  out += "</select></p>\n</div>\n<p class=\"buttons\"><button type=\"submit\">";
  out += t.filter_submit;
  out += "</button> <a href=\"/";
  out += languageSuffix(context, '?');
  out += "\">";
  out += t.filter_reset;
  out += "</a></p>\n</form>\n</section>\n";
}

/// "1 critique", "2 critiques": the status word after a count.
std::string countWord(const PageTexts& t, std::string_view status, long count) {
  std::string word(count > 1 ? statusPlural(t, status) : statusWord(t, status));
  if (status != "ok" && !word.empty() && word.front() >= 'A' && word.front() <= 'Z') {
    word.front() = static_cast<char>(word.front() - 'A' + 'a');
  }
  return std::to_string(count) + " " + word;
}

long countOf(const json& counts, std::string_view status) {
  const json* count = member(counts, status);
  return count != nullptr && count->is_number_integer() ? count->get<long>() : 0;
}

/// The page title says the state: "2 critiques, 1 avertissement — Vigie".
std::string countsTitle(const PageTexts& t, const json& counts) {
  std::string title;
  long total = 0;
  for (const std::string_view status : kStatuses) {
    const long value = countOf(counts, status);
    total += value;
    if (value == 0 || status == "ok" || status == "pending") {
      continue;
    }
    title += (title.empty() ? "" : ", ") + countWord(t, status, value);
  }
  if (title.empty()) {
    return std::string(total == 0 ? t.title_no_probe : t.title_all_ok);
  }
  return title;
}

std::string statusPathQuery(const PageContext& context) {
  std::string query;
  for (const auto& [name, value] : context.query) {
    if (name == "lang" || name == "done") {
      continue;
    }
    query += query.empty() ? "?" : "&";
    query += urlEncode(name) + "=" + urlEncode(value);
  }
  return "/" + query;
}

/// Previous and next links around the rows shown, the filters kept.
void pager(std::string& out, const PageTexts& t, const PageContext& context, std::size_t page,
           std::size_t pages, std::size_t first, std::size_t last, std::size_t total) {
  std::string base;
  for (const auto& [name, value] : context.query) {
    if (name == "page" || name == "done") continue;
    base += urlEncode(name) + "=" + urlEncode(value) + "&";
  }
  out += "<nav class=\"pager\" aria-label=\"";
  out += t.pager_label;
  out += "\"><p>";
  out += t.pager_showing;
  out += " " + std::to_string(first + 1) + " " + std::string(t.pager_to) + " " +
         std::to_string(last) + " " + std::string(t.pager_of) + " " + std::to_string(total) + ". ";
  if (page > 1) {
    out += "<a href=\"/?" + htmlEscape(base) + "page=" + std::to_string(page - 1) + "\">" +
           std::string(t.pager_previous) + "</a> ";
  }
  if (page < pages) {
    out += "<a href=\"/?" + htmlEscape(base) + "page=" + std::to_string(page + 1) + "\">" +
           std::string(t.pager_next) + "</a>";
  }
  out += "</p></nav>\n";
}

}  // namespace

std::size_t statusPageNumber(const FormFields& query, std::size_t total) {
  const std::size_t pages =
      std::max<std::size_t>(1, (total + kStatusRowsPerPage - 1) / kStatusRowsPerPage);
  return std::clamp<std::size_t>(std::strtoul(formField(query, "page").c_str(), nullptr, 10), 1,
                                 pages);
}

PageLanguage pickLanguage(std::string_view lang_parameter, std::string_view accept_language) {
  if (lang_parameter == "en") return PageLanguage::kEnglish;
  if (lang_parameter == "fr") return PageLanguage::kFrench;
  // The first of French or English in the list, weighted by q: English only when preferred.
  double french = -1, english = -1;
  std::size_t position = 0;
  while (position < accept_language.size()) {
    std::size_t end = accept_language.find(',', position);
    if (end == std::string_view::npos) end = accept_language.size();
    std::string_view entry = accept_language.substr(position, end - position);
    position = end + 1;
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    double weight = 1.0;
    if (const std::size_t semicolon = entry.find(';'); semicolon != std::string_view::npos) {
      const std::string_view parameters = entry.substr(semicolon + 1);
      if (const std::size_t q = parameters.find("q="); q != std::string_view::npos) {
        weight = std::strtod(std::string(parameters.substr(q + 2)).c_str(), nullptr);
      }
      entry = entry.substr(0, semicolon);
    }
    const std::string_view primary = entry.substr(0, entry.find('-'));
    const auto lowerEquals = [primary](std::string_view word) {
      return primary.size() == word.size() &&
             std::equal(primary.begin(), primary.end(), word.begin(),
                        [](char a, char b) { return (a | 0x20) == b; });
    };
    if (lowerEquals("fr") && french < 0) french = weight;
    if (lowerEquals("en") && english < 0) english = weight;
  }
  return english > 0 && english > french ? PageLanguage::kEnglish : PageLanguage::kFrench;
}

std::string percentDecode(std::string_view raw, bool plus_is_space) {
  const auto hexValue = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (raw[i] == '%' && i + 2 < raw.size() && hexValue(raw[i + 1]) >= 0 &&
               hexValue(raw[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(raw[i + 1]) * 16 + hexValue(raw[i + 2])));
      i += 2;
    } else {
      out.push_back(raw[i]);
    }
  }
  return out;
}

FormFields parseFormFields(std::string_view encoded) {
  const auto decode = [](std::string_view raw) { return percentDecode(raw, true); };
  FormFields fields;
  std::size_t position = 0;
  while (position < encoded.size()) {
    std::size_t end = encoded.find('&', position);
    if (end == std::string_view::npos) end = encoded.size();
    const std::string_view pair = encoded.substr(position, end - position);
    position = end + 1;
    if (pair.empty()) continue;
    const std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos) {
      fields.emplace_back(decode(pair), std::string());
    } else {
      fields.emplace_back(decode(pair.substr(0, equals)), decode(pair.substr(equals + 1)));
    }
  }
  return fields;
}

std::string formField(const FormFields& fields, std::string_view name) {
  for (const auto& [field, value] : fields) {
    if (field == name) {
      return value;
    }
  }
  return {};
}

std::string urlEncode(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

FormFields apiProbeFilters(const FormFields& page_query) {
  FormFields filters;
  const std::vector<std::string> statuses = statusFilter(page_query);
  if (!statuses.empty()) {
    std::string joined;
    for (const std::string& status : statuses) {
      if (!joined.empty()) joined += ',';
      joined += status;
    }
    filters.emplace_back("status", joined);
  }
  for (const auto& [name, value] : page_query) {
    if (value.empty()) {
      continue;  // an empty field of the filter form means "any"
    }
    if (name == "q" || name == "problems" || name.starts_with("label.")) {
      filters.emplace_back(name, value);
    }
  }
  return filters;
}

std::string renderStatusPage(const json& probes_doc, const PageContext& context) {
  const PageTexts& t = pageTexts(context.language);
  static const json kEmpty = json::object();
  const json* counts_member = member(probes_doc, "counts");
  const json& counts = counts_member != nullptr ? *counts_member : kEmpty;
  const std::string title = countsTitle(t, counts) + " — " + std::string(t.site_name);
  std::string out = pageTop(context, title, text(probes_doc, "agent"), statusPathQuery(context),
                            /*on_status_page=*/true);
  out += "<h1>";
  out += t.status_heading;
  out += "</h1>\n";
  out += notice(context);

  out += "<section aria-labelledby=\"counts-h\">\n<h2 id=\"counts-h\">";
  out += t.counts_label;
  out += "</h2>\n<ul class=\"counts\">\n";
  for (const std::string_view status : kStatuses) {
    const long value = countOf(counts, status);
    out += "<li><a class=\"badge s-";
    out += status;
    out += "\" href=\"/?status=";
    out += status;
    out += languageSuffix(context, '&');
    out += "\"><span aria-hidden=\"true\">";
    out += statusIcon(status);
    out += "</span> " + countWord(t, status, value) + "</a></li>\n";
  }
  out += "</ul>\n</section>\n";

  filterForm(out, t, context);

  static const json kNoProbes = json::array();
  const json* probes_member = member(probes_doc, "probes");
  const json& probes =
      probes_member != nullptr && probes_member->is_array() ? *probes_member : kNoProbes;
  out += "<section aria-labelledby=\"probes-h\">\n<h2 id=\"probes-h\">";
  out += t.group_caption;
  const json* total_count = member(probes_doc, "total");
  out += " (" +
         std::to_string(total_count != nullptr && total_count->is_number_unsigned()
                            ? total_count->get<std::size_t>()
                            : probes.size()) +
         ")</h2>\n";
  if (probes.empty()) {
    out += "<p>";
    out += t.no_probe_matches;
    out += "</p>\n";
  }
  const std::string group = formField(context.query, "group");
  const bool grouped =
      std::find(kFilterLabels.begin(), kFilterLabels.end(), group) != kFilterLabels.end();
  // Rows in display order with their group: the list comes failing first, so groups in order
  // of first appearance come worst first.
  std::vector<std::string> group_values;
  std::vector<std::vector<const json*>> group_members;
  std::map<std::string, std::size_t> index_of;
  for (const json& probe : probes) {
    std::string value;
    if (grouped) {
      if (const json* labels = member(probe, "labels")) value = text(*labels, group);
    }
    const auto [found, inserted] = index_of.try_emplace(value, group_values.size());
    if (inserted) {
      group_values.push_back(value);
      group_members.emplace_back();
    }
    group_members[found->second].push_back(&probe);
  }
  // One page of rows: 10,000 probes in one page would take seconds to render and to read. A
  // document with `total` holds only the page's rows, from `offset` on.
  const json* total_member = member(probes_doc, "total");
  const json* offset_member = member(probes_doc, "offset");
  const bool sliced = total_member != nullptr && total_member->is_number_unsigned() &&
                      offset_member != nullptr && offset_member->is_number_unsigned();
  const std::size_t total = sliced ? total_member->get<std::size_t>() : probes.size();
  const std::size_t offset = sliced ? offset_member->get<std::size_t>() : 0;
  const std::size_t pages =
      std::max<std::size_t>(1, (total + kStatusRowsPerPage - 1) / kStatusRowsPerPage);
  const std::size_t page = statusPageNumber(context.query, total);
  const std::size_t shown_first = (page - 1) * kStatusRowsPerPage;
  const std::size_t shown_last = std::min(total, shown_first + kStatusRowsPerPage);
  if (pages > 1) {
    pager(out, t, context, page, pages, shown_first, shown_last, total);
  }
  // The same rows as indexes into the document's array.
  const std::size_t first = std::min(probes.size(), shown_first - std::min(shown_first, offset));
  const std::size_t last = std::min(probes.size(), shown_last - std::min(shown_last, offset));
  out.reserve(out.size() + (last - first) * 700);
  std::size_t row = 0;
  for (std::size_t g = 0; g < group_values.size(); ++g) {
    const std::vector<const json*>& members = group_members[g];
    const std::size_t begin = std::max(first, row);
    const std::size_t end = std::min(last, row + members.size());
    if (begin < end) {
      const std::vector<const json*> shown(members.begin() + static_cast<long>(begin - row),
                                           members.begin() + static_cast<long>(end - row));
      const std::string caption =
          grouped ? htmlEscape(group) + "&nbsp;: " +
                        (group_values[g].empty() ? std::string(t.group_without_label)
                                                 : htmlEscape(group_values[g])) +
                        " (" + std::to_string(members.size()) + ")"
                  : std::string(t.table_caption);
      probeTable(out, t, context, shown, caption, g);
    }
    row += members.size();
  }
  if (pages > 1) {
    pager(out, t, context, page, pages, shown_first, shown_last, total);
  }
  out += "</section>\n";
  out += pageBottom(context, probes_doc);
  return out;
}

namespace {

void definition(std::string& out, std::string_view term, const std::string& html) {
  if (html.empty()) return;
  out += "<dt>";
  out += term;
  out += "</dt><dd>";
  out += html;
  out += "</dd>\n";
}

void hiddenFields(std::string& out, const PageContext& context, std::string_view probe) {
  out += "<input type=\"hidden\" name=\"csrf\" value=\"";
  out += htmlEscape(context.csrf_token);
  out += "\">\n<input type=\"hidden\" name=\"probe\" value=\"";
  out += htmlEscape(probe);
  out += "\">\n";
  if (context.language_in_query) {
    out += "<input type=\"hidden\" name=\"lang\" value=\"";
    out += pageTexts(context.language).html_lang;
    out += "\">\n";
  }
}

void actionForms(std::string& out, const PageTexts& t, const PageContext& context,
                 const json& probe) {
  const std::string name = text(probe, "name");
  out += "<section aria-labelledby=\"actions-h\" class=\"actions\">\n<h2 id=\"actions-h\">";
  out += t.actions_heading;
  out += "</h2>\n";
  if (!context.is_operator) {
    out += "<p class=\"readonly\"><span aria-hidden=\"true\">ⓘ</span> ";
    out += context.user.empty() ? t.actions_anonymous : t.actions_read_only;
    out += "</p>\n</section>\n";
    return;
  }
  const std::string status = text(probe, "status");
  const bool problem = status != "ok" && status != "pending";
  if (member(probe, "acknowledgement") != nullptr) {
    out += "<form method=\"post\" action=\"/actions/unacknowledge\" class=\"action\">\n";
    hiddenFields(out, context, name);
    out += "<button type=\"submit\">";
    out += t.unack_submit;
    out += "</button>\n</form>\n";
  } else if (problem) {
    out += "<form method=\"post\" action=\"/actions/acknowledge\" class=\"action\">\n";
    hiddenFields(out, context, name);
    out += "<fieldset><legend>";
    out += t.ack_legend;
    out += "</legend>\n<p><label for=\"ack-comment\">";
    out += t.ack_comment;
    out += "</label><br><span id=\"ack-hint\" class=\"hint\">";
    out += t.comment_hint;
    out +=
        "</span><br><textarea id=\"ack-comment\" name=\"comment\" rows=\"2\" cols=\"40\" "
        "required aria-describedby=\"ack-hint\"></textarea></p>\n<p><button type=\"submit\">";
    out += t.ack_submit;
    out += "</button></p>\n</fieldset>\n</form>\n";
  } else {
    out += "<p>";
    out += t.ack_no_problem;
    out += "</p>\n";
  }

  if (const json* silence = member(probe, "silence")) {
    out += "<form method=\"post\" action=\"/actions/unsilence\" class=\"action\">\n";
    hiddenFields(out, context, name);
    out += "<input type=\"hidden\" name=\"silence\" value=\"";
    const json* id = member(*silence, "id");
    out += htmlEscape(id == nullptr     ? std::string()
                      : id->is_string() ? id->get<std::string>()
                                        : id->dump());
    out += "\">\n<button type=\"submit\">";
    out += t.unsilence_submit;
    out += "</button>\n</form>\n";
  } else {
    static constexpr std::array<std::pair<std::string_view, std::array<std::string_view, 2>>, 6>
        kDurations{{{"15m", {"15 minutes", "15 minutes"}},
                    {"1h", {"1 heure", "1 hour"}},
                    {"2h", {"2 heures", "2 hours"}},
                    {"4h", {"4 heures", "4 hours"}},
                    {"8h", {"8 heures", "8 hours"}},
                    {"1d", {"1 jour", "1 day"}}}};
    out += "<form method=\"post\" action=\"/actions/silence\" class=\"action\">\n";
    hiddenFields(out, context, name);
    out += "<fieldset><legend>";
    out += t.silence_legend;
    out += "</legend>\n<p><label for=\"silence-duration\">";
    out += t.silence_duration;
    out += "</label> <select id=\"silence-duration\" name=\"duration\">\n";
    for (const auto& [value, words] : kDurations) {
      out += "<option value=\"";
      out += value;
      out += value == "1h" ? "\" selected>" : "\">";
      out += words[context.language == PageLanguage::kEnglish ? 1 : 0];
      out += "</option>\n";
    }
    out += "</select></p>\n<p><label for=\"silence-comment\">";
    out += t.silence_comment;
    out +=
        "</label><br><textarea id=\"silence-comment\" name=\"comment\" rows=\"2\" cols=\"40\" "
        "required></textarea></p>\n<p><button type=\"submit\">";
    out += t.silence_submit;
    out += "</button></p>\n</fieldset>\n</form>\n";
  }

  out += "<form method=\"post\" action=\"/actions/run\" class=\"action\">\n";
  hiddenFields(out, context, name);
  out += "<p><button type=\"submit\" aria-describedby=\"run-hint\">";
  out += t.run_submit;
  out += "</button> <span id=\"run-hint\" class=\"hint\">";
  out += t.run_hint;
  out += "</span></p>\n</form>\n</section>\n";
}

void tableStart(std::string& out, std::string_view id, std::string_view caption,
                std::initializer_list<std::string_view> columns) {
  out += "<div class=\"table-wrap\" role=\"region\" tabindex=\"0\" aria-labelledby=\"";
  out += id;
  out += "\">\n<table>\n<caption id=\"";
  out += id;
  out += "\">";
  out += caption;
  out += "</caption>\n<thead><tr>";
  for (const std::string_view column : columns) {
    out += "<th scope=\"col\">";
    out += column;
    out += "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
}

void tableEnd(std::string& out) { out += "</tbody>\n</table>\n</div>\n"; }

}  // namespace

std::string renderProbePage(const json& probe, const PageContext& context) {
  const PageTexts& t = pageTexts(context.language);
  const std::string name = text(probe, "name");
  const std::string status(knownStatus(text(probe, "status")));
  const std::string title =
      std::string(statusWord(t, status)) + " — " + name + " — " + std::string(t.site_name);
  std::string out = pageTop(context, title, text(probe, "agent"), "/probes/" + urlEncode(name),
                            /*on_status_page=*/false);
  out += "<p class=\"back\"><a href=\"/";
  out += languageSuffix(context, '?');
  out += "\"><span aria-hidden=\"true\">←</span> ";
  out += t.back_to_status;
  out += "</a></p>\n<h1>";
  out += t.probe_title_prefix;
  out += " ";
  out += htmlEscape(name);
  out += " ";
  out += badge(t, status);
  out += "</h1>\n";
  out += notice(context);

  const std::string instructions = text(probe, "instructions");
  const std::string runbook = text(probe, "runbook_url");
  if (!instructions.empty() || !runbook.empty()) {
    out +=
        "<section class=\"instructions\" aria-labelledby=\"instructions-h\">\n<h2 "
        "id=\"instructions-h\"><span aria-hidden=\"true\">☎</span> ";
    out += t.instructions_heading;
    out += "</h2>\n";
    if (!instructions.empty()) {
      out += "<p class=\"pre-line\">" + htmlEscape(instructions) + "</p>\n";
    }
    if (!runbook.empty()) {
      out += "<p>";
      if (isWebUrl(runbook)) {
        out += "<a href=\"" + htmlEscape(runbook) + "\">" + std::string(t.runbook_link) + "</a> (" +
               htmlEscape(runbook) + ")";
      } else {
        out += htmlEscape(runbook);
      }
      out += "</p>\n";
    }
    out += "</section>\n";
  }

  out += "<section aria-labelledby=\"summary-h\">\n<h2 id=\"summary-h\">";
  out += t.summary_heading;
  out += "</h2>\n<dl class=\"summary\">\n";
  definition(out, t.field_type, htmlEscape(text(probe, "type")));
  std::string state = badge(t, status);
  if (const std::string state_type = stateTypeText(t, probe); !state_type.empty()) {
    state += " " + state_type;
  }
  definition(out, t.field_state, state);
  definition(out, t.field_since, htmlEscape(text(probe, "since_local")));
  definition(out, t.field_last_run, htmlEscape(text(probe, "last_run_at_local")));
  definition(out, t.field_duration, number(probe, "duration_seconds", t));
  const std::string reason = text(probe, "reason");
  definition(out, t.field_reason, reason.empty() ? "" : "<code>" + htmlEscape(reason) + "</code>");
  definition(out, t.field_message, htmlEscape(text(probe, "message")));
  definition(out, t.field_labels, labelsText(probe));
  const std::string interval = number(probe, "interval_seconds", t);
  if (!interval.empty()) {
    definition(out, t.field_schedule,
               std::string(t.every) + " " + interval + ", " + std::string(t.timeout) + " " +
                   number(probe, "timeout_seconds", t));
  }
  if (const json* parents = member(probe, "depends_on"); parents && parents->is_array()) {
    std::string links;
    for (const json& parent : *parents) {
      if (!parent.is_string()) continue;
      if (!links.empty()) links += ", ";
      links += "<a href=\"" + htmlEscape(probeHref(context, parent.get<std::string>())) + "\">" +
               htmlEscape(parent.get<std::string>()) + "</a>";
    }
    definition(out, t.field_depends_on, links);
  }
  definition(out, t.col_flags, handlingList(t, probe));
  out += "</dl>\n</section>\n";

  actionForms(out, t, context, probe);

  out += "<section aria-labelledby=\"results-h\">\n<h2 id=\"results-h\">";
  out += t.results_heading;
  out += "</h2>\n";
  const json* results = member(probe, "results");
  if (results == nullptr || !results->is_array() || results->empty()) {
    out += "<p>";
    out += t.no_results;
    out += "</p>\n";
  } else {
    tableStart(out, "results-table", t.results_caption,
               {t.col_time, t.col_status, t.col_duration, t.col_reason, t.col_message});
    for (const json& result : *results) {
      out += "<tr><th scope=\"row\">" + htmlEscape(text(result, "at_local")) + "</th><td>" +
             badge(t, text(result, "status")) + "</td><td>" +
             number(result, "duration_seconds", t) + "</td><td>";
      const std::string result_reason = text(result, "reason");
      if (!result_reason.empty()) out += "<code>" + htmlEscape(result_reason) + "</code>";
      out += "</td><td>" + htmlEscape(text(result, "message"));
      if (const json* details = member(result, "details"); details && details->is_array()) {
        for (const json& line : *details) {
          if (line.is_string()) {
            out += "<br><span class=\"minor\">" + htmlEscape(line.get<std::string>()) + "</span>";
          }
        }
      }
      out += "</td></tr>\n";
    }
    tableEnd(out);
    if (const json* phases = member(results->front(), "phases");
        phases && phases->is_object() && !phases->empty()) {
      tableStart(out, "phases-table", t.phases_caption, {t.col_phase, t.col_duration});
      // In the order they happen, then any other phase a probe type reports.
      static constexpr std::array<std::string_view, 5> kOrder{"resolve", "connect", "tls",
                                                              "processing", "transfer"};
      std::vector<std::string> names;
      for (const std::string_view known : kOrder) {
        if (phases->contains(known)) names.emplace_back(known);
      }
      for (const auto& [phase, seconds] : phases->items()) {
        if (std::find(kOrder.begin(), kOrder.end(), phase) == kOrder.end()) names.push_back(phase);
      }
      for (const std::string& phase : names) {
        const json& seconds = (*phases)[phase];
        out += "<tr><th scope=\"row\">" + htmlEscape(phase) + "</th><td>" +
               (seconds.is_number() ? formatSeconds(t, seconds.get<double>()) : "") +
               "</td></tr>\n";
      }
      tableEnd(out);
    }
  }
  out += "</section>\n";

  if (const json* certificate = member(probe, "certificate"); certificate) {
    out += "<section aria-labelledby=\"cert-h\">\n<h2 id=\"cert-h\">";
    out += t.certificate_heading;
    out += "</h2>\n<dl class=\"summary\">\n";
    definition(out, t.cert_subject, htmlEscape(text(*certificate, "subject")));
    definition(out, t.cert_issuer, htmlEscape(text(*certificate, "issuer")));
    definition(out, t.cert_expiry, htmlEscape(text(*certificate, "not_after_local")));
    out += "</dl>\n</section>\n";
  }
  if (const json* redirects = member(probe, "redirects");
      redirects && redirects->is_array() && !redirects->empty()) {
    out += "<section aria-labelledby=\"redirects-h\">\n<h2 id=\"redirects-h\">";
    out += t.redirects_heading;
    out += "</h2>\n<ol class=\"redirects\">\n";
    for (const json& hop : *redirects) {
      if (hop.is_string()) out += "<li>" + htmlEscape(hop.get<std::string>()) + "</li>\n";
    }
    out += "</ol>\n</section>\n";
  }
  if (const std::string excerpt = text(probe, "excerpt"); !excerpt.empty()) {
    out += "<section aria-labelledby=\"excerpt-h\">\n<h2 id=\"excerpt-h\">";
    out += t.excerpt_heading;
    out += "</h2>\n<pre class=\"excerpt\" tabindex=\"0\" aria-labelledby=\"excerpt-h\">";
    out += htmlEscape(excerpt);
    out += "</pre>\n</section>\n";
  }

  out += "<section aria-labelledby=\"history-h\">\n<h2 id=\"history-h\">";
  out += t.history_heading;
  out += "</h2>\n";
  const json* history = member(probe, "history");
  if (history == nullptr || !history->is_array() || history->empty()) {
    out += "<p>";
    out += t.no_history;
    out += "</p>\n";
  } else {
    tableStart(
        out, "history-table", t.history_caption,
        {t.col_time, t.col_event, t.col_detail, t.col_author, t.col_destination, t.col_outcome});
    for (const json& entry : *history) {
      out += "<tr><th scope=\"row\">" + htmlEscape(text(entry, "at_local")) + "</th><td>" +
             historyKind(context.language, text(entry, "kind")) + "</td><td>" +
             htmlEscape(text(entry, "text")) + "</td><td>" + htmlEscape(text(entry, "author")) +
             "</td><td>" + htmlEscape(text(entry, "destination")) + "</td><td>" +
             htmlEscape(text(entry, "outcome")) + "</td></tr>\n";
    }
    tableEnd(out);
  }
  out += "</section>\n";
  out += pageBottom(context, probe);
  return out;
}

std::string renderMessagePage(int status, std::string_view message, const PageContext& context) {
  const PageTexts& t = pageTexts(context.language);
  const std::string heading =
      (context.language == PageLanguage::kEnglish ? "Error " : "Erreur ") + std::to_string(status);
  std::string out = pageTop(context, heading + " — " + std::string(t.site_name), "", "/", false);
  out += "<h1>" + heading + "</h1>\n<p>" + htmlEscape(message) + "</p>\n<p><a href=\"/" +
         languageSuffix(context, '?') + "\">" + std::string(t.back_to_status) + "</a></p>\n";
  out += pageBottom(context, json::object());
  return out;
}

}  // namespace vigie
