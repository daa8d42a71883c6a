// SPDX-License-Identifier: Apache-2.0
// The scenario type's pure parts: forms as a browser submits them, URL resolution, templates.
#include "scenario/html_page.h"

#include <gtest/gtest.h>

#include "scenario/scenario_steps.h"

namespace vigie::probes {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kPage = R"(<html><body>
<form id="search" action="/search"><input name="q" value="x"></form>
<form name="f" action="?" method="post">
  <input type="text" name="username" value="">
  <input type="password" name="password">
  <input type="hidden" name="AuthState" value="_abc&amp;def">
  <input type="hidden" value="no name: not sent">
  <input type="checkbox" name="remember">
  <input type="checkbox" name="terms" checked>
  <input type="radio" name="lang" value="fr" checked><input type="radio" name="lang" value="en">
  <input name="off" value="1" disabled>
  <select name="domain"><option value="a">A<option value="b" selected>B</select>
  <textarea name="note">hello</textarea>
  <button type="submit">Login</button><input type="submit" name="go" value="Go">
</form></body></html>)";

TEST(HtmlPage, FormKeepsWhatABrowserSubmits) {
  const HtmlPage page(kPage, "https://idp.example/sso/login.php?AuthState=old#top");
  FormSelector selector;
  selector.name = "f";
  const auto form = page.form(selector);
  ASSERT_TRUE(form);
  EXPECT_EQ(form->method, "POST");
  // action="?": the same path with an empty query, the old query and fragment dropped.
  EXPECT_EQ(form->action, "https://idp.example/sso/login.php");
  EXPECT_EQ(form->fields, (Fields{{"username", ""},
                                  {"password", ""},
                                  {"AuthState", "_abc&def"},
                                  {"terms", "on"},
                                  {"lang", "fr"},
                                  {"domain", "b"},
                                  {"note", "hello"}}));
}

TEST(HtmlPage, FormSelection) {
  const HtmlPage page(kPage, "https://app.example/a/b");
  FormSelector first;
  auto form = page.form(first);
  ASSERT_TRUE(form);
  EXPECT_EQ(form->action, "https://app.example/search");
  EXPECT_EQ(form->method, "GET");
  FormSelector second;
  second.index = 1;
  ASSERT_TRUE(page.form(second));
  EXPECT_EQ(page.form(second)->method, "POST");
  FormSelector by_action;
  by_action.action.emplace("^/search$");
  ASSERT_TRUE(page.form(by_action));
  EXPECT_EQ(page.form(by_action)->fields, (Fields{{"q", "x"}}));
  FormSelector by_id;
  by_id.id = "missing";
  EXPECT_FALSE(page.form(by_id));
  FormSelector too_far;
  too_far.index = 2;
  EXPECT_FALSE(page.form(too_far));
}

TEST(HtmlPage, XPathValuesAndCounts) {
  const HtmlPage page(kPage, "https://app.example/");
  auto result = page.evaluate(XPath("//input[@name='AuthState']/@value"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->value, "_abc&def");
  EXPECT_EQ(result->nodes, 1u);
  result = page.evaluate(XPath("count(//form)"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->value, "2");
  result = page.evaluate(XPath("//table"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->nodes, 0u);
  EXPECT_THROW(XPath("//a["), std::invalid_argument);
}

TEST(HtmlPage, NotHtmlAtAll) {
  const HtmlPage page("", "https://app.example/");
  EXPECT_FALSE(page.form(FormSelector{}));
  const HtmlPage binary(std::string("\0\x01\x02<form", 8), "https://app.example/");
  EXPECT_NO_THROW(binary.form(FormSelector{}));
}

TEST(ResolveUrl, AsBrowsersDo) {
  EXPECT_EQ(resolveUrl("https://h/a/b?x=1", "c"), "https://h/a/c");
  EXPECT_EQ(resolveUrl("https://h/a/b?x=1", "/c?y=2"), "https://h/c?y=2");
  EXPECT_EQ(resolveUrl("https://h/a/b?x=1", "?y=2"), "https://h/a/b?y=2");
  EXPECT_EQ(resolveUrl("https://h/a/b", "https://other:8443/acs"), "https://other:8443/acs");
  EXPECT_FALSE(resolveUrl("not a url", "c"));
}

TEST(Template, RendersKnownVariablesOnly) {
  const auto text = scenario::Template::parse("{{base}}/login?u={{ user }}", {"base", "user"});
  EXPECT_EQ(text.render({{"base", "https://h"}, {"user", "alice"}}), "https://h/login?u=alice");
  EXPECT_THROW(scenario::Template::parse("{{nope}}", {"base"}), std::invalid_argument);
  EXPECT_THROW(scenario::Template::parse("{{base", {"base"}), std::invalid_argument);
  EXPECT_EQ(scenario::Template::parse("no braces", {}).render({}), "no braces");
}

TEST(OneLine, CollapsesAndBounds) {
  EXPECT_EQ(scenario::oneLine("  a\n\n b\tc ", 100), "a b c ");
  EXPECT_EQ(scenario::oneLine("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace vigie::probes
