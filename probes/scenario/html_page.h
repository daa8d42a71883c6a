// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_checks.h"

namespace vigie::probes {

/// An XPath expression compiled once at configuration time.
class XPath {
 public:
  /// Throws std::invalid_argument when libxml2 cannot compile it.
  explicit XPath(const std::string& expression);
  const std::string& text() const { return text_; }
  xmlXPathCompExprPtr compiled() const { return compiled_.get(); }

 private:
  struct Free {
    void operator()(xmlXPathCompExpr* expression) const { xmlXPathFreeCompExpr(expression); }
  };
  std::string text_;
  std::shared_ptr<xmlXPathCompExpr> compiled_;
};

/// Which form of a page a form step submits: the first one matching every criterion set.
struct FormSelector {
  std::string id;
  std::string name;
  std::optional<Regex> action;
  std::size_t index = 0;  ///< among the matching forms, in document order

  std::string describe() const;
};

/// A form as a browser would submit it without a user touching it: its successful controls
/// (hidden inputs included, unchecked boxes, buttons and nameless inputs excluded).
struct HtmlForm {
  std::string action;  ///< resolved to an absolute URL
  std::string method;  ///< "GET" or "POST"
  std::vector<std::pair<std::string, std::string>> fields;
};

/// A response body parsed by libxml2's forgiving HTML parser.
class HtmlPage {
 public:
  /// `url` is the page's own address, against which form actions resolve.
  HtmlPage(std::string_view body, std::string url);

  /// The string value of what the expression selects (the first node's text or attribute
  /// value, or a number or boolean), and how many nodes it selected; nullopt when the
  /// expression fails at run time.
  struct XPathResult {
    std::string value;
    std::size_t nodes = 0;
  };
  std::optional<XPathResult> evaluate(const XPath& xpath) const;

  /// The string values of every node the expression selects, joined by spaces.
  std::string joinedText(const XPath& xpath) const;

  std::optional<HtmlForm> form(const FormSelector& selector) const;

 private:
  struct Free {
    void operator()(xmlDoc* document) const { xmlFreeDoc(document); }
  };
  std::string url_;
  std::unique_ptr<xmlDoc, Free> document_;
};

/// `relative` resolved against `base` as a browser does (RFC 3986); nullopt when either is not
/// a URL.
std::optional<std::string> resolveUrl(const std::string& base, const std::string& relative);

}  // namespace vigie::probes
