// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "console/html_csrf.h"
#include "console/html_pages.h"

namespace vigie {
namespace {

using json = nlohmann::json;

json probeSummary(std::string name, std::string status, std::string message) {
  return json{{"name", std::move(name)},
              {"type", "http"},
              {"labels", {{"app", "pia"}, {"environment", "production"}}},
              {"status", std::move(status)},
              {"state_type", "hard"},
              {"attempt", 3},
              {"max_attempts", 3},
              {"since", "2026-11-30T02:41:10.123Z"},
              {"since_local", "30/11/2026 03:41:10 UTC+01:00 (Europe/Paris)"},
              {"reason", "status_code"},
              {"message", std::move(message)},
              {"flapping", false},
              {"in_maintenance", false},
              {"unreachable", false},
              {"acknowledgement", nullptr},
              {"silence", nullptr},
              {"runbook_url", nullptr},
              {"instructions", nullptr}};
}

json probesDocument() {
  json doc{{"agent", "vigie-crt-01"},
           {"generated_at", "2026-11-30T02:41:10.123Z"},
           {"generated_at_local", "30/11/2026 03:41:10 UTC+01:00 (Europe/Paris)"},
           {"timezone", "Europe/Paris"},
           {"counts", {{"ok", 1}, {"warning", 0}, {"critical", 2}, {"unknown", 0}, {"pending", 0}}},
           {"probes", json::array()}};
  doc["probes"].push_back(
      probeSummary("pia-web", "critical", "HTTP 500 <script>alert(1)</script>"));
  json acked = probeSummary("sirh-db", "critical", "connexion refusée");
  acked["labels"]["app"] = "sirh";
  acked["acknowledgement"] = {
      {"author", "alice"}, {"comment", "DBA appelé"}, {"at", "x"}, {"at_local", "y"}};
  doc["probes"].push_back(acked);
  json ok = probeSummary("pia-api", "ok", "HTTP 200");
  ok["reason"] = "";
  ok["silence"] = {{"id", 7},
                   {"ends_at_local", "30/11/2026 05:00:00"},
                   {"author", "bob"},
                   {"comment", "intervention"}};
  doc["probes"].push_back(ok);
  return doc;
}

PageContext operatorContext(PageLanguage language = PageLanguage::kFrench) {
  PageContext context;
  context.language = language;
  context.user = "alice";
  context.is_operator = true;
  context.csrf_token = "token-123";
  return context;
}

std::size_t countOf(const std::string& haystack, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST(ConsoleHtml, StatusPageEscapesWhatComesFromTargets) {
  const std::string page = renderStatusPage(probesDocument(), operatorContext());
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_NE(page.find("HTTP 500 &lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

TEST(ConsoleHtml, StatusPageTitleCountsProblemsInFrench) {
  const std::string page = renderStatusPage(probesDocument(), operatorContext());
  EXPECT_NE(page.find("<html lang=\"fr\">"), std::string::npos);
  EXPECT_NE(page.find("<title>2 critiques — Vigie</title>"), std::string::npos);
  // The state is a word beside its colour.
  EXPECT_NE(page.find("✖</span> Critique</span>"), std::string::npos);
  EXPECT_NE(page.find("Acquittée par alice"), std::string::npos);
  EXPECT_NE(page.find("En silence jusqu'au 30/11/2026 05:00:00"), std::string::npos);
}

TEST(ConsoleHtml, StatusPageInEnglish) {
  const std::string page =
      renderStatusPage(probesDocument(), operatorContext(PageLanguage::kEnglish));
  EXPECT_NE(page.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(page.find("<title>2 critical — Vigie</title>"), std::string::npos);
  EXPECT_NE(page.find("Acknowledged by alice"), std::string::npos);
  EXPECT_NE(page.find(">Skip to content</a>"), std::string::npos);
}

TEST(ConsoleHtml, StatusPageKeepsTheApiOrderAndShowsTheFilters) {
  PageContext context = operatorContext();
  context.query = parseFormFields("status=critical&label.app=pia&q=we%20b&group=app");
  const std::string page = renderStatusPage(probesDocument(), context);
  // Failing first, as the API sorted them: pia-web, sirh-db, then pia-api.
  const auto web = page.find(">pia-web</a>");
  const auto db = page.find(">sirh-db</a>");
  const auto api = page.find(">pia-api</a>");
  ASSERT_NE(web, std::string::npos);
  ASSERT_NE(db, std::string::npos);
  ASSERT_NE(api, std::string::npos);
  // Grouped by app: the pia group (first seen, with the worst probe) holds pia-web and pia-api.
  EXPECT_LT(web, api);
  EXPECT_LT(api, db);
  EXPECT_NE(page.find("app&nbsp;: pia (2)"), std::string::npos);
  EXPECT_NE(page.find("app&nbsp;: sirh (1)"), std::string::npos);
  // The filter form shows what was asked.
  EXPECT_NE(page.find("id=\"f-status-critical\" value=\"critical\" checked>"), std::string::npos);
  EXPECT_NE(page.find("name=\"label.app\" id=\"f-label-app\" value=\"pia\""), std::string::npos);
  EXPECT_NE(page.find("name=\"q\" id=\"f-q\" value=\"we b\""), std::string::npos);
  EXPECT_NE(page.find("<option value=\"app\" selected>"), std::string::npos);
  EXPECT_EQ(countOf(page, "<caption"), 2u);
}

TEST(ConsoleHtml, PageFiltersBecomeTheApiParameters) {
  const FormFields api = apiProbeFilters(parseFormFields(
      "status=critical&status=unknown&label.app=pia&label.ci=&q=&group=app&lang=en&problems=1"));
  const FormFields expected{
      {"status", "critical,unknown"}, {"label.app", "pia"}, {"problems", "1"}};
  EXPECT_EQ(api, expected);
}

TEST(ConsoleHtml, LanguageFromQueryThenAcceptLanguage) {
  EXPECT_EQ(pickLanguage("", ""), PageLanguage::kFrench);
  EXPECT_EQ(pickLanguage("", "en-US,en;q=0.9,fr;q=0.8"), PageLanguage::kEnglish);
  EXPECT_EQ(pickLanguage("", "fr-FR,fr;q=0.9,en;q=0.8"), PageLanguage::kFrench);
  EXPECT_EQ(pickLanguage("", "de,en;q=0.5"), PageLanguage::kEnglish);
  EXPECT_EQ(pickLanguage("fr", "en"), PageLanguage::kFrench);
  EXPECT_EQ(pickLanguage("en", "fr"), PageLanguage::kEnglish);
}

json probeDocument() {
  json probe = probeSummary("pia-web", "critical", "HTTP 500");
  probe["instructions"] = "Appeler l'astreinte <DBA>";
  probe["runbook_url"] = "https://wiki.example/pia";
  probe["interval_seconds"] = 30;
  probe["timeout_seconds"] = 10;
  probe["depends_on"] = {"pia-db"};
  probe["results"] = {{{"at_local", "30/11/2026 03:41:10"},
                       {"status", "critical"},
                       {"duration_seconds", 0.042},
                       {"reason", "status_code"},
                       {"message", "HTTP 500"},
                       {"phases", {{"connect", 0.002}, {"processing", 0.030}}},
                       {"details", {"Set-Cookie removed"}}}};
  probe["certificate"] = {
      {"subject", "CN=pia"}, {"issuer", "CN=CA"}, {"not_after_local", "01/01/2027"}};
  probe["redirects"] = {"302 https://pia/login"};
  probe["excerpt"] = "<html>Internal error</html>";
  probe["history"] = {{{"at_local", "30/11/2026 03:41:10"},
                       {"kind", "delivered"},
                       {"text", "trigger"},
                       {"author", nullptr},
                       {"destination", "itop"},
                       {"outcome", "201"}}};
  return probe;
}

TEST(ConsoleHtml, ProbePageShowsInstructionsResultsAndForms) {
  const std::string page = renderProbePage(probeDocument(), operatorContext());
  EXPECT_NE(page.find("<title>Critique — pia-web — Vigie</title>"), std::string::npos);
  EXPECT_NE(page.find("Appeler l&#39;astreinte &lt;DBA&gt;"), std::string::npos);
  EXPECT_NE(page.find("<a href=\"https://wiki.example/pia\">"), std::string::npos);
  EXPECT_NE(page.find("&lt;html&gt;Internal error&lt;/html&gt;"), std::string::npos);
  EXPECT_NE(page.find("42 ms"), std::string::npos);
  EXPECT_NE(page.find("30 ms"), std::string::npos);
  EXPECT_NE(page.find("Transmis"), std::string::npos);
  EXPECT_NE(page.find("action=\"/actions/acknowledge\""), std::string::npos);
  EXPECT_NE(page.find("action=\"/actions/silence\""), std::string::npos);
  EXPECT_NE(page.find("action=\"/actions/run\""), std::string::npos);
  EXPECT_EQ(countOf(page, "name=\"csrf\" value=\"token-123\""), 3u);
  // Every field has its label.
  EXPECT_NE(page.find("<label for=\"ack-comment\">"), std::string::npos);
  EXPECT_NE(page.find("<label for=\"silence-duration\">"), std::string::npos);
}

TEST(ConsoleHtml, ProbePageHidesFormsFromReaders) {
  PageContext reader = operatorContext();
  reader.is_operator = false;
  const std::string page = renderProbePage(probeDocument(), reader);
  EXPECT_EQ(page.find("<form method=\"post\""), std::string::npos);
  EXPECT_NE(page.find("lecture seule"), std::string::npos);
}

TEST(ConsoleHtml, RunbookOtherThanWebIsNotALink) {
  json probe = probeDocument();
  probe["runbook_url"] = "javascript:alert(1)";
  const std::string page = renderProbePage(probe, operatorContext());
  EXPECT_EQ(page.find("href=\"javascript:"), std::string::npos);
}

TEST(ConsoleHtml, ConfirmationIsAFixedWord) {
  PageContext context = operatorContext(PageLanguage::kEnglish);
  context.query = parseFormFields("done=acknowledged");
  EXPECT_NE(renderProbePage(probeDocument(), context).find("Problem acknowledged."),
            std::string::npos);
  context.query = parseFormFields("done=%3Cb%3Ehello");
  EXPECT_EQ(renderProbePage(probeDocument(), context).find("hello"), std::string::npos);
}

TEST(ConsoleHtml, ProbeNamesAreEncodedInLinks) {
  json doc = probesDocument();
  doc["probes"][0]["name"] = "a b/\"c";
  const std::string page = renderStatusPage(doc, operatorContext());
  EXPECT_NE(page.find("href=\"/probes/a%20b%2F%22c\""), std::string::npos);
}

TEST(ConsoleHtml, LongListsArePaged) {
  json doc = probesDocument();
  doc["probes"] = json::array();
  for (int i = 0; i < 1234; ++i) {
    std::string name = "p";
    name += std::to_string(i);
    doc["probes"].push_back(probeSummary(name, "ok", "fine"));
  }
  PageContext context = operatorContext();
  context.query = parseFormFields("label.app=pia&page=3");
  const std::string page = renderStatusPage(doc, context);
  EXPECT_NE(page.find("Sondes 1001 à 1234 sur 1234."), std::string::npos);
  EXPECT_EQ(page.find(">p999</a>"), std::string::npos);
  EXPECT_NE(page.find(">p1000</a>"), std::string::npos);
  EXPECT_NE(page.find(">p1233</a>"), std::string::npos);
  // The previous page keeps the filters; there is no next page.
  EXPECT_NE(page.find("href=\"/?label.app=pia&amp;page=2\""), std::string::npos);
  EXPECT_EQ(page.find("Page suivante"), std::string::npos);
}

TEST(ConsoleHtml, APageOfTheListIsShownWhereItBelongs) {
  // What Console::probesText(query, 1000, 500) gives for page 3 of 1,234 probes.
  json doc = probesDocument();
  doc["total"] = 1234u;
  doc["offset"] = 1000u;
  doc["probes"] = json::array();
  for (int i = 1000; i < 1234; ++i) {
    std::string name = "p";
    name += std::to_string(i);
    doc["probes"].push_back(probeSummary(name, "ok", "fine"));
  }
  PageContext context = operatorContext();
  context.query = parseFormFields("page=3");
  const std::string page = renderStatusPage(doc, context);
  EXPECT_NE(page.find("Sondes (1234)"), std::string::npos);
  EXPECT_NE(page.find("Sondes 1001 à 1234 sur 1234."), std::string::npos);
  EXPECT_NE(page.find(">p1000</a>"), std::string::npos);
  EXPECT_NE(page.find(">p1233</a>"), std::string::npos);
  EXPECT_NE(page.find("href=\"/?page=2\""), std::string::npos);
}

TEST(ConsoleCsrf, TokenVerifiesForItsUserOnly) {
  const CsrfTokens tokens;
  const std::string token = tokens.tokenFor("alice");
  EXPECT_EQ(token.size(), 64u);
  EXPECT_TRUE(tokens.verify("alice", token));
  EXPECT_FALSE(tokens.verify("bob", token));
  std::string forged = token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_FALSE(tokens.verify("alice", forged));
  EXPECT_FALSE(tokens.verify("alice", ""));
  // Another process (another secret) gives another token.
  EXPECT_NE(CsrfTokens().tokenFor("alice"), token);
}

TEST(ConsoleCsrf, CrossSitePostsAreRefused) {
  EXPECT_EQ(crossSiteRefusal("same-origin", "http://127.0.0.1:9115", ""), "");
  EXPECT_EQ(crossSiteRefusal("", "", ""), "");
  EXPECT_NE(crossSiteRefusal("cross-site", "", ""), "");
  EXPECT_NE(crossSiteRefusal("same-site", "", ""), "");
  EXPECT_NE(crossSiteRefusal("", "null", ""), "");
  EXPECT_NE(crossSiteRefusal("", "https://evil.example", "http://127.0.0.1:9115"), "");
  EXPECT_EQ(crossSiteRefusal("", "http://127.0.0.1:9115", "http://127.0.0.1:9115"), "");
}

}  // namespace
}  // namespace vigie
