// SPDX-License-Identifier: Apache-2.0
#include "console/html_routes.h"

#include <limits>

#include "console/html_pages.h"

namespace vigie {
namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kProbePrefix = "/probes/";
constexpr std::string_view kActionPrefix = "/actions/";

HttpResponse page(int status, std::string body) {
  return {status, std::string(kHtml), std::move(body), {}};
}

/// What the done= of the confirmation says for each action.
std::string_view doneWord(std::string_view verb) {
  if (verb == "acknowledge") return "acknowledged";
  if (verb == "unacknowledge") return "unacknowledged";
  if (verb == "silence") return "silenced";
  if (verb == "unsilence") return "unsilenced";
  return "run";
}

/// Post/redirect/get: 303 sends the browser to the probe page with a GET, so a reload shows the
/// page again instead of posting twice. The body's link serves clients that do not follow it.
HttpResponse seeOther(const PageContext& context, const std::string& location) {
  const bool english = context.language == PageLanguage::kEnglish;
  HttpResponse response =
      page(303, std::string("<!DOCTYPE html>\n<html lang=\"") + (english ? "en" : "fr") +
                    "\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + (english ? "Done" : "Fait") +
                    " — Vigie</title>\n</head>\n<body>\n<main>\n<p><a href=\"" +
                    htmlEscape(location) + "\">" + (english ? "Continue" : "Continuer") +
                    "</a></p>\n</main>\n</body>\n</html>\n");
  response.location = location;
  return response;
}

std::string queryString(const FormFields& fields) {
  std::string query;
  for (const auto& [name, value] : fields) {
    if (!query.empty()) query += '&';
    query += urlEncode(name);
    query += '=';
    query += urlEncode(value);
  }
  return query;
}

}  // namespace

PageContext ConsolePages::context(const HttpRequest& request, FormFields query) const {
  PageContext context;
  const std::string lang = formField(query, "lang");
  context.language = pickLanguage(lang, request.accept_language);
  context.language_in_query = lang == "en" || lang == "fr";
  context.user = request.user;
  context.is_operator = request.is_operator && !request.user.empty();
  if (context.is_operator) {
    context.csrf_token = csrf_.tokenFor(request.user);
  }
  context.query = std::move(query);
  return context;
}

std::optional<HttpResponse> ConsolePages::handle(const HttpRequest& request) {
  const std::size_t question = request.target.find('?');
  const std::string path = request.target.substr(0, question);
  const std::string raw_query =
      question == std::string::npos ? std::string() : request.target.substr(question + 1);
  const bool is_page = path == "/" || path == kConsoleCssPath ||
                       (path.starts_with(kProbePrefix) && path.size() > kProbePrefix.size());
  if (is_page) {
    // Pages only read: a post or a delete to a page is a mistake, never an action.
    if (request.method != "GET" && request.method != "HEAD") {
      return HttpResponse{405, "text/plain; charset=utf-8", "method not allowed\n", "GET, HEAD"};
    }
    if (path == kConsoleCssPath) {
      return HttpResponse{200, "text/css; charset=utf-8", std::string(kConsoleCss), {}};
    }
    const FormFields query = parseFormFields(raw_query);
    if (path == "/") {
      return statusPage(request, query);
    }
    return probePage(request, query, percentDecode(path.substr(kProbePrefix.size()), false));
  }
  if (path.starts_with(kActionPrefix)) {
    if (request.method != "POST") {
      return HttpResponse{405, "text/plain; charset=utf-8", "method not allowed\n", "POST"};
    }
    return action(request, std::string_view(path).substr(kActionPrefix.size()));
  }
  return std::nullopt;
}

HttpResponse ConsolePages::statusPage(const HttpRequest& request, const FormFields& query) {
  const PageContext page_context = context(request, query);
  // Only the asked page's rows are written and parsed: 500 summaries, not 10,000.
  const std::size_t page_number = statusPageNumber(query, std::numeric_limits<std::size_t>::max());
  const nlohmann::json probes = nlohmann::json::parse(
      console_.probesText(ProbeQuery::fromQueryString(queryString(apiProbeFilters(query))),
                          (page_number - 1) * kStatusRowsPerPage, kStatusRowsPerPage));
  return page(200, renderStatusPage(probes, page_context));
}

HttpResponse ConsolePages::probePage(const HttpRequest& request, const FormFields& query,
                                     const std::string& name) {
  const PageContext page_context = context(request, query);
  const std::optional<nlohmann::json> probe = console_.probe(name);
  if (!probe) {
    const bool english = page_context.language == PageLanguage::kEnglish;
    return page(404,
                renderMessagePage(
                    404, (english ? "No probe is named " : "Aucune sonde ne s'appelle ") + name,
                    page_context));
  }
  return page(200, renderProbePage(*probe, page_context));
}

HttpResponse ConsolePages::action(const HttpRequest& request, std::string_view verb) {
  const FormFields form = parseFormFields(request.body);
  const PageContext page_context = context(request, {{"lang", formField(form, "lang")}});
  const bool english = page_context.language == PageLanguage::kEnglish;
  const auto refuse = [&page_context](int status, const std::string& message) {
    return page(status, renderMessagePage(status, message, page_context));
  };
  if (verb != "acknowledge" && verb != "unacknowledge" && verb != "silence" &&
      verb != "unsilence" && verb != "run") {
    return refuse(404, english ? "No such action." : "Action inconnue.");
  }
  if (const std::string why = crossSiteRefusal(request.sec_fetch_site, request.origin, "");
      !why.empty()) {
    return refuse(403, (english ? "Refused: " : "Refusé : ") + why);
  }
  if (request.user.empty() || !request.is_operator) {
    return refuse(403, english ? "Refused: actions need an authenticated operator."
                               : "Refusé : les actions demandent un opérateur authentifié.");
  }
  if (!request.content_type.starts_with("application/x-www-form-urlencoded") ||
      !csrf_.verify(request.user, formField(form, "csrf"))) {
    return refuse(403, english ? "Refused: the form's token is missing or wrong (CSRF). Reload "
                                 "the page and try again."
                               : "Refusé : le jeton du formulaire manque ou est faux (CSRF). "
                                 "Rechargez la page et recommencez.");
  }
  const Actor actor{request.user, "form", request.remote};
  const std::string probe = formField(form, "probe");
  const std::string comment = formField(form, "comment");
  ActionResult result;
  if (verb == "acknowledge") {
    if (comment.empty()) {
      return refuse(400, english ? "A comment is required." : "Le commentaire est obligatoire.");
    }
    result = console_.acknowledge(actor, probe, comment);
  } else if (verb == "unacknowledge") {
    result = console_.unacknowledge(actor, probe);
  } else if (verb == "silence") {
    std::string error;
    const std::optional<SilenceRequest> silence = SilenceRequest::fromJson(
        {{"probe", probe}, {"duration", formField(form, "duration")}, {"comment", comment}}, error);
    if (!silence) {
      return refuse(400, error);
    }
    result = console_.silence(actor, *silence);
  } else if (verb == "unsilence") {
    result = console_.unsilence(actor, formField(form, "silence"));
  } else {
    result = console_.runNow(actor, probe);
  }
  if (result.http_status >= 400) {
    std::string message = "HTTP " + std::to_string(result.http_status);
    if (result.body.is_object() && result.body.contains("error") &&
        result.body["error"].is_object() && result.body["error"].value("message", "") != "") {
      message = result.body["error"]["message"].get<std::string>();
    }
    return refuse(result.http_status, message);
  }
  std::string location = "/probes/" + urlEncode(probe) + "?done=" + std::string(doneWord(verb));
  if (page_context.language_in_query) {
    location += english ? "&lang=en" : "&lang=fr";
  }
  return seeOther(page_context, location);
}

}  // namespace vigie
