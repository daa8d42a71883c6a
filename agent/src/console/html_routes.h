// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>

#include "console/console.h"
#include "console/html_csrf.h"
#include "console/html_pages.h"
#include "http/http_server.h"

namespace vigie {

/// The console's HTML routes on the endpoint: `/` (status page), `/probes/{name}`, the form
/// posts under `/actions/` and the stylesheet. Reads come from the Console's JSON documents,
/// actions go through the Console like the API's, with the form's user as the author.
class ConsolePages {
 public:
  explicit ConsolePages(Console& console) : console_(console) {}

  /// nullopt when the path is not one of the console's pages.
  std::optional<HttpResponse> handle(const HttpRequest& request);

 private:
  HttpResponse statusPage(const HttpRequest& request, const FormFields& query);
  HttpResponse probePage(const HttpRequest& request, const FormFields& query,
                         const std::string& name);
  HttpResponse action(const HttpRequest& request, std::string_view verb);
  PageContext context(const HttpRequest& request, FormFields query) const;

  Console& console_;
  CsrfTokens csrf_;
};

}  // namespace vigie
