// SPDX-License-Identifier: Apache-2.0
#include "scenario/html_page.h"

#include <curl/curl.h>
#include <libxml/xpathInternals.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace vigie::probes {
namespace {

std::string attribute(xmlNode* node, const char* name) {
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  if (value == nullptr) {
    return "";
  }
  std::string text(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return text;
}

bool hasAttribute(xmlNode* node, const char* name) {
  return xmlHasProp(node, reinterpret_cast<const xmlChar*>(name)) != nullptr;
}

std::string content(xmlNode* node) {
  xmlChar* value = xmlNodeGetContent(node);
  if (value == nullptr) {
    return "";
  }
  std::string text(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

bool named(xmlNode* node, const char* name) {
  return node->type == XML_ELEMENT_NODE &&
         xmlStrcasecmp(node->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

void collectForms(xmlNode* node, std::vector<xmlNode*>& forms) {
  for (xmlNode* child = node; child != nullptr; child = child->next) {
    if (named(child, "form")) {
      forms.push_back(child);
    }
    collectForms(child->children, forms);
  }
}

/// The value a <select> submits: its selected option, else its first one.
std::optional<std::string> selectValue(xmlNode* select) {
  std::optional<std::string> first;
  std::optional<std::string> chosen;
  auto visit = [&](auto& self, xmlNode* node) -> void {
    for (; node != nullptr && !chosen; node = node->next) {
      if (named(node, "option")) {
        std::string value = hasAttribute(node, "value") ? attribute(node, "value") : content(node);
        if (hasAttribute(node, "selected")) {
          chosen = value;
        } else if (!first) {
          first = value;
        }
      } else {
        self(self, node->children);
      }
    }
  };
  visit(visit, select->children);
  return chosen ? chosen : first;
}

void collectFields(xmlNode* node, std::vector<std::pair<std::string, std::string>>& fields) {
  for (; node != nullptr; node = node->next) {
    if (node->type != XML_ELEMENT_NODE) {
      continue;
    }
    const std::string name = attribute(node, "name");
    const bool usable = !name.empty() && !hasAttribute(node, "disabled");
    if (named(node, "input")) {
      const std::string type = lower(attribute(node, "type"));
      const bool control = type != "submit" && type != "image" && type != "button" &&
                           type != "reset" && type != "file";
      const bool unchecked =
          (type == "checkbox" || type == "radio") && !hasAttribute(node, "checked");
      if (usable && control && !unchecked) {
        const bool box = type == "checkbox" || type == "radio";
        fields.emplace_back(name, hasAttribute(node, "value") || !box ? attribute(node, "value")
                                                                      : std::string("on"));
      }
    } else if (named(node, "textarea")) {
      if (usable) {
        fields.emplace_back(name, content(node));
      }
    } else if (named(node, "select")) {
      if (usable) {
        if (auto value = selectValue(node)) {
          fields.emplace_back(name, *value);
        }
      }
    } else {
      collectFields(node->children, fields);
    }
  }
}

using XPathContext = std::unique_ptr<xmlXPathContext, decltype(&xmlXPathFreeContext)>;

/// An XPath context whose errors are results, never lines libxml2 prints on stderr.
XPathContext silentContext(xmlDoc* document) {
  XPathContext context(xmlXPathNewContext(document), &xmlXPathFreeContext);
  if (context) {
    context->error = [](void*, xmlError*) {};
  }
  return context;
}

}  // namespace

XPath::XPath(const std::string& expression) : text_(expression) {
  const XPathContext context = silentContext(nullptr);
  compiled_.reset(context ? xmlXPathCtxtCompile(
                                context.get(), reinterpret_cast<const xmlChar*>(expression.c_str()))
                          : nullptr,
                  Free());
  if (!compiled_) {
    throw std::invalid_argument("invalid XPath expression '" + expression + "'");
  }
}

std::string FormSelector::describe() const {
  std::string text = "form";
  if (!id.empty()) {
    text += " id=" + id;
  }
  if (!name.empty()) {
    text += " name=" + name;
  }
  if (action) {
    text += " action~" + action->pattern();
  }
  if (index > 0) {
    text += " #" + std::to_string(index);
  }
  return text;
}

HtmlPage::HtmlPage(std::string_view body, std::string url) : url_(std::move(url)) {
  // NONET: a page never makes the parser fetch anything; errors are the page's business.
  document_.reset(htmlReadMemory(body.data(), static_cast<int>(body.size()), url_.c_str(), nullptr,
                                 HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                     HTML_PARSE_NONET | HTML_PARSE_COMPACT));
}

std::optional<HtmlPage::XPathResult> HtmlPage::evaluate(const XPath& xpath) const {
  if (!document_) {
    return XPathResult{};
  }
  const XPathContext context = silentContext(document_.get());
  if (!context) {
    return std::nullopt;
  }
  std::unique_ptr<xmlXPathObject, decltype(&xmlXPathFreeObject)> result(
      xmlXPathCompiledEval(xpath.compiled(), context.get()), &xmlXPathFreeObject);
  if (!result) {
    return std::nullopt;
  }
  XPathResult out;
  if (result->type == XPATH_NODESET) {
    out.nodes = result->nodesetval == nullptr ? 0 : result->nodesetval->nodeNr;
  }
  xmlChar* text = xmlXPathCastToString(result.get());
  if (text != nullptr) {
    out.value = reinterpret_cast<const char*>(text);
    xmlFree(text);
  }
  return out;
}

std::string HtmlPage::joinedText(const XPath& xpath) const {
  std::string text;
  if (!document_) {
    return text;
  }
  const XPathContext context = silentContext(document_.get());
  std::unique_ptr<xmlXPathObject, decltype(&xmlXPathFreeObject)> result(
      context ? xmlXPathCompiledEval(xpath.compiled(), context.get()) : nullptr,
      &xmlXPathFreeObject);
  if (!result || result->type != XPATH_NODESET || result->nodesetval == nullptr) {
    return text;
  }
  for (int i = 0; i < result->nodesetval->nodeNr; ++i) {
    text += content(result->nodesetval->nodeTab[i]) + " ";
  }
  return text;
}

std::optional<HtmlForm> HtmlPage::form(const FormSelector& selector) const {
  if (!document_) {
    return std::nullopt;
  }
  std::vector<xmlNode*> forms;
  collectForms(xmlDocGetRootElement(document_.get()), forms);
  std::size_t seen = 0;
  for (xmlNode* node : forms) {
    if ((!selector.id.empty() && attribute(node, "id") != selector.id) ||
        (!selector.name.empty() && attribute(node, "name") != selector.name) ||
        (selector.action && !selector.action->search(attribute(node, "action")))) {
      continue;
    }
    if (seen++ != selector.index) {
      continue;
    }
    HtmlForm form;
    // No action (or an empty one) submits to the page itself.
    const std::string action = attribute(node, "action");
    auto resolved = action.empty() ? std::optional<std::string>(url_) : resolveUrl(url_, action);
    if (!resolved) {
      return std::nullopt;
    }
    form.action = std::move(*resolved);
    form.method = lower(attribute(node, "method")) == "post" ? "POST" : "GET";
    collectFields(node->children, form.fields);
    return form;
  }
  return std::nullopt;
}

std::optional<std::string> resolveUrl(const std::string& base, const std::string& relative) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  // A bare "?query" keeps the path and replaces the query (RFC 3986 5.2.2), which not every
  // curl release does on its own.
  if (!relative.empty() && relative[0] == '?') {
    const std::string query = relative.substr(1);
    if (curl_url_set(handle.get(), CURLUPART_QUERY, query.empty() ? nullptr : query.c_str(), 0) !=
            CURLUE_OK ||
        curl_url_set(handle.get(), CURLUPART_FRAGMENT, nullptr, 0) != CURLUE_OK) {
      return std::nullopt;
    }
  } else if (curl_url_set(handle.get(), CURLUPART_URL, relative.c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  char* text = nullptr;
  if (curl_url_get(handle.get(), CURLUPART_URL, &text, 0) != CURLUE_OK) {
    return std::nullopt;
  }
  std::string url(text);
  curl_free(text);
  return url;
}

}  // namespace vigie::probes
