// SPDX-License-Identifier: Apache-2.0
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "alert/alert_json.h"
#include "alert/alerter.h"
#include "alert/event.h"
#include "alert/maintenance.h"
#include "forward/alert_db.h"
#include "forward/delivery.h"
#include "forward/destination.h"
#include "forward/itop.h"
#include "test_config.h"

namespace vigie {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, FullJitterGrowsThenCaps) {
  EXPECT_EQ(fullJitterBackoff(0, 2s, 300s, 0.0), 0ms);
  EXPECT_EQ(fullJitterBackoff(0, 2s, 300s, 0.5), 1s);
  EXPECT_EQ(fullJitterBackoff(3, 2s, 300s, 0.5), 8s);
  // 2 s * 2^10 is far above the cap: the draw is uniform under 5 min, never above.
  EXPECT_EQ(fullJitterBackoff(10, 2s, 300s, 0.999999), 299'999ms);
  EXPECT_EQ(fullJitterBackoff(1000, 2s, 300s, 0.5), 150s);
}

TEST(Taxonomy, EveryOutcomeHasItsClass) {
  struct Case {
    int curl;
    long status;
    Outcome outcome;
    const char* reason;
  };
  const Case cases[] = {
      {CURLE_OK, 200, Outcome::Delivered, ""},
      {CURLE_OK, 204, Outcome::Delivered, ""},
      {CURLE_COULDNT_CONNECT, 0, Outcome::Retryable, "network"},
      {CURLE_OPERATION_TIMEDOUT, 0, Outcome::Retryable, "timeout"},
      {CURLE_OK, 500, Outcome::Retryable, "http_5xx"},
      {CURLE_OK, 503, Outcome::Retryable, "http_5xx"},
      {CURLE_OK, 429, Outcome::Retryable, "http_429"},
      {CURLE_OK, 401, Outcome::Auth, "auth"},
      {CURLE_OK, 403, Outcome::Auth, "auth"},
      {CURLE_OK, 400, Outcome::Permanent, "http_4xx"},
      {CURLE_OK, 422, Outcome::Permanent, "http_4xx"},
  };
  for (const Case& c : cases) {
    HttpReply reply;
    reply.curl_code = c.curl;
    reply.status = c.status;
    const Classified got = classify(reply);
    EXPECT_EQ(got.outcome, c.outcome) << c.curl << "/" << c.status;
    EXPECT_EQ(got.reason, c.reason) << c.curl << "/" << c.status;
  }
}

TEST(Taxonomy, DetailSaysWhatTheReceiverSaid) {
  HttpReply reply;
  reply.status = 503;
  reply.body = "Service\nUnavailable\n";
  EXPECT_EQ(classify(reply).detail, "HTTP 503: Service Unavailable");
  reply.curl_code = CURLE_COULDNT_CONNECT;
  reply.error = "Failed to connect to 127.0.0.1 port 1: Connection refused";
  EXPECT_EQ(classify(reply).detail, reply.error);
}

TEST(Taxonomy, LoggedUrlsCarryNoCredentials) {
  EXPECT_EQ(redactedUrl("https://user:pa55@itop.example/rest.php?x=a@b"),
            "https://itop.example/rest.php?x=a@b");
  EXPECT_EQ(redactedUrl("http://127.0.0.1:9/events"), "http://127.0.0.1:9/events");
}

// iTop's answers as a real iTop 3.2 gives them (tests/itop/test_itop.py meets them live).
TEST(ItopTaxonomy, ConfigurationMistakesAreHeldNotDeadLettered) {
  struct Case {
    const char* body;
    Outcome outcome;
    const char* reason;
  };
  const Case cases[] = {
      {R"({"code": 0, "message": null, "objects": {}})", Outcome::Delivered, ""},
      {R"({"code": 1, "message": "Error: Invalid login"})", Outcome::Auth, "auth"},
      {R"({"code": 1, "message": "The current user does not have enough permissions for )"
       R"(creating data of class Incident"})",
       Outcome::Config, "itop_permission"},
      {R"({"code": 100, "message": "Error: org_id: Expecting an OQL query - found )"
       R"('FieldOqlExpression' at 0 in 'DNE'"})",
       Outcome::Config, "itop_config"},
      {R"({"code": 100, "message": "Error: class: 'Serveur' is not a valid class'"})",
       Outcome::Config, "itop_config"},
      {R"({"code": 100, "message": "Error: caller_id: No item found for query: SELECT )"
       R"(Person WHERE name = \"x\""})",
       Outcome::Config, "itop_config"},
      {R"({"code": 100, "message": "Invalid stimulus: 'ev_autoresolve' on the object )"
       R"(I-000006 in state 'closed'"})",
       Outcome::Permanent, "itop_invalid"},
      {R"({"code": 100, "message": "Error: database is locked"})", Outcome::Retryable,
       "itop_internal"},
  };
  for (const Case& c : cases) {
    HttpReply reply;
    reply.status = 200;
    reply.body = c.body;
    const Classified got = classifyItop(reply, nlohmann::json::parse(reply.body));
    EXPECT_EQ(got.outcome, c.outcome) << c.body;
    EXPECT_EQ(got.reason, c.reason) << c.body;
    if (c.outcome != Outcome::Delivered) {
      EXPECT_EQ(got.detail, nlohmann::json::parse(reply.body)["message"]) << c.body;
    }
  }
}

TEST(ItopTaxonomy, RejectedIsFinalLikeClosed) {
  for (const char* status : {"resolved", "closed", "rejected", "gone"}) {
    EXPECT_TRUE(itopTicketFinal(status)) << status;
  }
  for (const char* status : {"new", "assigned", "pending", "waiting_for_approval"}) {
    EXPECT_FALSE(itopTicketFinal(status)) << status;
  }
  EXPECT_NE(itopFindByMarker(ItopTarget{}, "k")["key"].get<std::string>().find("'rejected'"),
            std::string::npos);
}

TEST(RetryAfter, SecondsOrHttpDate) {
  const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);
  EXPECT_EQ(parseRetryAfter("120", now), 120s);
  EXPECT_EQ(parseRetryAfter("Tue, 14 Nov 2023 22:15:20 GMT", now), 120s);
  EXPECT_FALSE(parseRetryAfter("soon", now));
}

TEST(Signature, HmacSha256MatchesRfc4231) {
  EXPECT_EQ(hmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Event, DedupKeyIgnoresLabelOrderButNotValues) {
  const std::string key = dedupKey({{"probe", "a"}, {"alertname", "X"}});
  EXPECT_EQ(key, dedupKey({{"alertname", "X"}, {"probe", "a"}}));
  EXPECT_NE(key, dedupKey({{"alertname", "X"}, {"probe", "b"}}));
  EXPECT_EQ(key.size(), 16u);
}

TEST(Event, EventIdsAreUuidV7AndUnique) {
  const std::regex uuid7("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = newEventId(std::chrono::system_clock::now());
    EXPECT_TRUE(std::regex_match(id, uuid7)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Event, CanonicalEventCarriesTheSchemaFields) {
  AlertState state;
  AlertPolicy policy;
  policy.max_attempts = 1;
  ProbeResult result = ProbeResult::critical("connect", "connection refused");
  result.samples.push_back({families::dnsLookupTime(), 0.002, {}});
  const WallTime now{1'700'000'000s};
  const auto outcome = step(state, policy, Status::Critical, now, {});
  ASSERT_EQ(outcome.changes.size(), 1u);
  EventSource source;
  source.agent = "sonde01";
  source.probe = "portail-x";
  source.type = "tcp";
  source.labels = {{"ci", "PORTAIL-X"}, {"environment", "production"}};
  source.state = &state;
  const RecordedResult recorded = SampleLayouts().record(result);
  source.result = &recorded;
  const auto event = toJson(buildEvent(source, outcome.changes[0], now));
  EXPECT_EQ(event["schema"], "vigie-event/1");
  EXPECT_EQ(event["action"], "trigger");
  EXPECT_EQ(event["severity"], "critical");
  EXPECT_EQ(event["status"], "firing");
  EXPECT_EQ(event["resource"]["ci_name"], "PORTAIL-X");
  EXPECT_EQ(event["resource"]["environment"], "production");
  EXPECT_EQ(event["check"]["reason"], "connect");
  EXPECT_EQ(event["labels"]["alertname"], "VigieProbeFailed");
  EXPECT_EQ(event["starts_at"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(event["metrics"]["probe_dns_lookup_time_seconds"], 0.002);
  EXPECT_NE(event["summary"].get<std::string>().find("en échec"), std::string::npos);
  EXPECT_EQ(event["dedup_key"], dedupKey({{"ci", "PORTAIL-X"},
                                          {"environment", "production"},
                                          {"alertname", "VigieProbeFailed"},
                                          {"agent", "sonde01"},
                                          {"probe", "portail-x"}}));
}

TEST(AlertJson, RoundTrip) {
  AlertState state;
  AlertPolicy policy;
  step(state, policy, Status::Warning, WallTime{100s}, {});
  step(state, policy, Status::Warning, WallTime{110s}, {});
  step(state, policy, Status::Warning, WallTime{120s}, {});
  state.in_maintenance = true;
  const auto decoded = decodeAlertState(encodeAlertState(state));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, state);
  EXPECT_FALSE(decodeAlertState("{not json"));
  EXPECT_FALSE(decodeAlertState("{\"v\": 99}"));
}

TEST(Maintenance, WeeklyWindowFollowsParisSummerAndWinterTime) {
  MaintenanceWindow window;
  window.weekdays = {2};  // Tuesday
  window.from = 6h;
  window.to = 7h;
  window.zone = findZone("Europe/Paris");
  ASSERT_NE(window.zone, nullptr);
  // Tuesday 1 December 2026, UTC+1: 06:30 Paris is 05:30Z.
  EXPECT_TRUE(window.activeAt(*parseTimestamp("2026-12-01T05:30:00Z")));
  EXPECT_FALSE(window.activeAt(*parseTimestamp("2026-12-01T06:30:00Z")));
  // Tuesday 2 June 2026, UTC+2: 06:30 Paris is 04:30Z.
  EXPECT_TRUE(window.activeAt(*parseTimestamp("2026-06-02T04:30:00Z")));
  EXPECT_FALSE(window.activeAt(*parseTimestamp("2026-06-02T05:30:00Z")));
  // Wednesday, same hour: not scheduled.
  EXPECT_FALSE(window.activeAt(*parseTimestamp("2026-06-03T04:30:00Z")));
}

TEST(Maintenance, WindowPastMidnightBelongsToItsStartDay) {
  MaintenanceWindow window;
  window.weekdays = {6};  // Saturday 23:00 → Sunday 01:00 UTC
  window.from = 23h;
  window.to = 1h;
  window.zone = findZone("UTC");
  ASSERT_NE(window.zone, nullptr);
  EXPECT_TRUE(window.activeAt(*parseTimestamp("2026-12-05T23:30:00Z")));   // Saturday
  EXPECT_TRUE(window.activeAt(*parseTimestamp("2026-12-06T00:30:00Z")));   // Sunday morning
  EXPECT_FALSE(window.activeAt(*parseTimestamp("2026-12-06T23:30:00Z")));  // Sunday night
}

TEST(Maintenance, OneOffWindowAndSelectors) {
  MaintenanceWindow window;
  window.start = parseTimestamp("2026-12-01T06:00:00+01:00");
  window.end = parseTimestamp("2026-12-01T08:00:00+01:00");
  ASSERT_TRUE(window.start && window.end);
  EXPECT_TRUE(window.activeAt(*parseTimestamp("2026-12-01T05:00:00Z")));
  EXPECT_FALSE(window.activeAt(*parseTimestamp("2026-12-01T07:00:00Z")));
  EXPECT_TRUE(window.appliesTo("any", {}));
  window.match_labels = {{"env", "prod"}};
  EXPECT_TRUE(window.appliesTo("a", {{"env", "prod"}, {"ci", "X"}}));
  EXPECT_FALSE(window.appliesTo("a", {{"env", "test"}}));
  window.probes = {"b"};
  EXPECT_TRUE(window.appliesTo("b", {}));
  EXPECT_FALSE(parseTimestamp("2026-12-01 06:00"));
  EXPECT_FALSE(parseTimeOfDay("6h"));
  EXPECT_EQ(parseTimeOfDay("06:30"), 390min);
}

TEST(MergeActions, ReceiverSeesTheNetChange) {
  EXPECT_EQ(mergeActions("trigger", "update"), "trigger");
  EXPECT_EQ(mergeActions("trigger", "resolve"), "resolve");
  EXPECT_EQ(mergeActions("update", "resolve"), "resolve");
  EXPECT_EQ(mergeActions("resolve", "trigger"), "update");
  EXPECT_EQ(mergeActions("update", "update"), "update");
  EXPECT_EQ(mergeActions("heartbeat", "heartbeat"), "heartbeat");
}

TEST(MergeEvents, TypedMergeKeepsBothHistoriesAndTheNetAction) {
  const WallTime now{1'700'000'000s};
  Event trigger = buildHeartbeat("sonde01", now);
  trigger.action = EventAction::Trigger;
  trigger.history = {{now, true, "critical"}};
  Event resolve = trigger;
  resolve.action = EventAction::Resolve;
  resolve.event_id = newEventId(now + 1s);
  resolve.history = {{now + 1s, false, "critical"}};
  const Event merged = mergeEvents(trigger, resolve);
  EXPECT_EQ(merged.action, EventAction::Resolve);
  EXPECT_EQ(merged.event_id, resolve.event_id);
  ASSERT_EQ(merged.history.size(), 2u);
  EXPECT_TRUE(merged.history[0].firing);
  EXPECT_FALSE(merged.history[1].firing);
  EXPECT_EQ(toJson(merged)["history"][1]["status"], "resolved");
}

TEST(Event, HeartbeatHasNoAlertFields) {
  const auto json = toJson(buildHeartbeat("sonde01", WallTime{1'700'000'000s}));
  EXPECT_EQ(json["action"], "heartbeat");
  EXPECT_EQ(json["dedup_key"], "heartbeat:sonde01");
  EXPECT_EQ(json["labels"]["alertname"], "Watchdog");
  for (const char* key : {"check", "resource", "starts_at", "ends_at", "metrics", "description"}) {
    EXPECT_FALSE(json.contains(key)) << key;
  }
}

TEST(Destinations, EveryConfiguredTypeIsRegistered) {
  for (const auto& target : std::vector<std::shared_ptr<const DestinationTarget>>{
           std::make_shared<WebhookTarget>(), std::make_shared<AlertmanagerTarget>(),
           std::make_shared<ItopTarget>()}) {
    EXPECT_NE(findDestinationType(target->type()), nullptr) << target->type();
  }
  EXPECT_EQ(findDestinationType("pager"), nullptr);
}

// Dependencies and maintenance are judged by the Alerter, from what the store holds.
class AlerterTest : public ::testing::Test {
 protected:
  static ProbeSpec spec(const std::string& name, std::vector<std::string> parents = {}) {
    ProbeSpec probe;
    probe.name = name;
    probe.type = "tcp";
    probe.alerting.max_attempts = 1;
    probe.depends_on = std::move(parents);
    return probe;
  }

  AlertUpdate run(const ProbeSpec& probe, ProbeResult result) {
    now_ += 1s;
    return alerter_.onResult(store_, probe, std::move(result), 0.01, now_);
  }

  Alerter alerter_{"sonde01"};
  StateStore store_;
  WallTime now_{1'700'000'000s};
};

TEST_F(AlerterTest, ChildOfAHardDownParentIsUnreachableAndSilent) {
  const ProbeSpec router = spec("router");
  const ProbeSpec web = spec("web", {"router"});
  store_.configure({router, web});
  const AlertUpdate down = run(router, ProbeResult::critical("connect", "refused"));
  ASSERT_EQ(down.events.size(), 1u);
  EXPECT_EQ(down.events[0].action, EventAction::Trigger);
  EXPECT_EQ(down.events[0].check.name, "router");
  ASSERT_TRUE(down.state);
  EXPECT_TRUE(down.state->hardProblem());

  const AlertUpdate child = run(web, ProbeResult::critical("connect", "refused"));
  EXPECT_TRUE(child.events.empty());
  ASSERT_TRUE(child.state);
  EXPECT_TRUE(child.state->unreachable);
  EXPECT_EQ(store_.find("web")->last_result->status, Status::Critical);
}

TEST_F(AlerterTest, MaintenanceHoldsTheTriggerBack) {
  const ProbeSpec web = spec("web");
  store_.configure({web});
  MaintenanceWindow window;
  window.start = now_;
  window.end = now_ + 1h;
  alerter_.setMaintenance({window});
  const AlertUpdate update = run(web, ProbeResult::critical("connect", "refused"));
  EXPECT_TRUE(update.events.empty());
  ASSERT_TRUE(update.state);
  EXPECT_TRUE(update.state->in_maintenance);
  alerter_.setMaintenance({});
  const AlertUpdate after = run(web, ProbeResult::critical("connect", "refused"));
  ASSERT_EQ(after.events.size(), 1u);
  EXPECT_EQ(after.events[0].action, EventAction::Trigger);
}

TEST_F(AlerterTest, RemovedProbesCloseTheirAlerts) {
  const ProbeSpec web = spec("web");
  store_.configure({web});
  run(web, ProbeResult::critical("connect", "refused"));
  const ClosedAlerts closed = alerter_.closeRemoved({}, store_, now_);
  EXPECT_EQ(closed.forgotten, std::vector<std::string>{"web"});
  ASSERT_EQ(closed.events.size(), 1u);
  // Finding 5: retired, never "rétablie" (nothing saw it pass).
  EXPECT_EQ(closed.events[0].action, EventAction::Retire);
  const auto json = toJson(closed.events[0]);
  EXPECT_EQ(json["action"], "retire");
  EXPECT_EQ(json["status"], "retired");
  const std::string summary = json["summary"];
  EXPECT_NE(summary.find("retirée de la configuration"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("rétablie"), std::string::npos) << summary;
}

// Finding 2: a failing child runs its parent out of turn and stays SOFT until it answers; the
// parent failing makes it unreachable, and only the parent's alert goes out, naming the child.
TEST_F(AlerterTest, FailingChildChecksItsParentFirst) {
  const ProbeSpec db = spec("db");
  const ProbeSpec app = spec("app", {"db"});
  store_.configure({db, app});
  run(db, ProbeResult::ok("up"));
  const AlertUpdate held = run(app, ProbeResult::critical("http_status", "HTTP 503"));
  EXPECT_TRUE(held.events.empty());
  EXPECT_EQ(held.run_now, std::vector<std::string>{"db"});
  ASSERT_TRUE(held.state);
  EXPECT_EQ(held.state->type, StateType::Soft);

  const AlertUpdate parent = run(db, ProbeResult::critical("connect", "refused"));
  ASSERT_EQ(parent.events.size(), 1u);
  EXPECT_EQ(parent.events[0].check.name, "db");
  EXPECT_EQ(parent.events[0].affected, std::vector<std::string>{"app"});
  EXPECT_NE(parent.events[0].description.find("app"), std::string::npos);
  EXPECT_EQ(parent.run_now, std::vector<std::string>{"app"});

  const AlertUpdate child = run(app, ProbeResult::critical("http_status", "HTTP 503"));
  EXPECT_TRUE(child.events.empty());
  ASSERT_TRUE(child.state);
  EXPECT_TRUE(child.state->unreachable);
}

TEST_F(AlerterTest, ChildAlertsWhenItsParentPasses) {
  const ProbeSpec db = spec("db");
  const ProbeSpec app = spec("app", {"db"});
  store_.configure({db, app});
  EXPECT_EQ(run(app, ProbeResult::critical("http_status", "HTTP 503")).run_now,
            std::vector<std::string>{"db"});
  EXPECT_EQ(run(db, ProbeResult::ok("up")).run_now, std::vector<std::string>{"app"});
  const AlertUpdate child = run(app, ProbeResult::critical("http_status", "HTTP 503"));
  ASSERT_EQ(child.events.size(), 1u);
  EXPECT_EQ(child.events[0].action, EventAction::Trigger);
  EXPECT_EQ(child.events[0].check.reason, "http_status");
}

// A parent that is SOFT failing already makes its children unreachable (the default), or holds
// them SOFT until it decides (agent.unreachable_when: parent_hard).
TEST_F(AlerterTest, SoftParentHoldsChildrenWhenOnlyHardCounts) {
  alerter_.setUnreachableWhenHard(true);
  ProbeSpec db = spec("db");
  db.alerting.max_attempts = 2;
  const ProbeSpec app = spec("app", {"db"});
  store_.configure({db, app});
  run(db, ProbeResult::critical("connect", "refused"));
  const AlertUpdate held = run(app, ProbeResult::critical("http_status", "HTTP 503"));
  EXPECT_TRUE(held.events.empty());
  EXPECT_TRUE(held.run_now.empty()) << "the parent is retrying on its own";
  const AlertUpdate parent = run(db, ProbeResult::critical("connect", "refused"));
  ASSERT_EQ(parent.events.size(), 1u);
  EXPECT_EQ(parent.run_now, std::vector<std::string>{"app"});
  EXPECT_TRUE(run(app, ProbeResult::critical("http_status", "HTTP 503")).events.empty());
}

// "Done means": one parent outage with 50 dependent probes is exactly one ticket, in whatever
// order the results come, and its recovery exactly one resolve.
TEST_F(AlerterTest, FiftyDependentsOneParentOutageIsOneTrigger) {
  ProbeSpec db = spec("db");
  db.alerting.max_attempts = 3;
  std::vector<ProbeSpec> probes{db};
  for (int i = 0; i < 50; ++i) {
    probes.push_back(spec("app" + std::to_string(i), {"db"}));
  }
  store_.configure(probes);
  std::map<std::string, const ProbeSpec*> by_name;
  for (const ProbeSpec& probe : probes) {
    by_name[probe.name] = &probe;
  }
  bool down = false;
  std::vector<Event> events;
  std::deque<std::string> out_of_turn;
  auto runOne = [&](const std::string& name) {
    ProbeResult result = down ? ProbeResult::critical("connect", "refused") : ProbeResult::ok("up");
    AlertUpdate update = run(*by_name[name], std::move(result));
    events.insert(events.end(), update.events.begin(), update.events.end());
    out_of_turn.insert(out_of_turn.end(), update.run_now.begin(), update.run_now.end());
    while (!out_of_turn.empty()) {
      const std::string next = out_of_turn.front();
      out_of_turn.pop_front();
      AlertUpdate more = run(*by_name[next], down ? ProbeResult::critical("connect", "refused")
                                                  : ProbeResult::ok("up"));
      events.insert(events.end(), more.events.begin(), more.events.end());
      out_of_turn.insert(out_of_turn.end(), more.run_now.begin(), more.run_now.end());
    }
  };
  auto round = [&]() {
    // Children first: the worst order, each of them sees the outage before the parent.
    for (std::size_t i = probes.size(); i-- > 0;) {
      runOne(probes[i].name);
    }
  };
  round();
  down = true;
  for (int i = 0; i < 5; ++i) {
    round();
  }
  int triggers = 0;
  for (const Event& event : events) {
    EXPECT_EQ(event.check.name, "db") << "a dependent alerted on its own";
    triggers += event.action == EventAction::Trigger ? 1 : 0;
  }
  ASSERT_EQ(triggers, 1);
  EXPECT_EQ(events[0].affected.size(), 50u);
  events.clear();
  down = false;
  for (int i = 0; i < 3; ++i) {
    round();
  }
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action, EventAction::Resolve);
}

// Finding 3: "since" is the first failure of the episode, in agent.timezone with its offset.
TEST_F(AlerterTest, HumanTimeIsTheFirstFailureInTheAgentZone) {
  alerter_.setTimeZone(findZone("Europe/Paris"));
  ProbeSpec web = spec("web");
  web.alerting.max_attempts = 3;
  store_.configure({web});
  run(web, ProbeResult::critical("connect", "refused"));  // 2023-11-14T22:13:21Z
  run(web, ProbeResult::critical("connect", "refused"));
  const AlertUpdate hard = run(web, ProbeResult::critical("connect", "refused"));
  ASSERT_EQ(hard.events.size(), 1u);
  const std::string& description = hard.events[0].description;
  EXPECT_NE(description.find("depuis 14/11/2023 23:13:21 UTC+01:00 (Europe/Paris)"),
            std::string::npos)
      << description;
  EXPECT_EQ(toJson(hard.events[0])["occurred_at"], "2023-11-14T22:13:23.000Z");
  EXPECT_EQ(toJson(hard.events[0])["occurred_at_local"],
            "14/11/2023 23:13:23 UTC+01:00 (Europe/Paris)");
}

// Finding 6: the documented labels fill the event's resource.
TEST_F(AlerterTest, ConventionalLabelsFillTheResource) {
  ProbeSpec web = spec("web");
  web.labels = {{"app", "portail"},
                {"environment", "production"},
                {"hosting_center", "dc1"},
                {"ci", "PORTAIL"}};
  store_.configure({web});
  const AlertUpdate hard = run(web, ProbeResult::critical("connect", "refused"));
  ASSERT_EQ(hard.events.size(), 1u);
  const auto json = toJson(hard.events[0]);
  EXPECT_EQ(json["resource"]["app"], "portail");
  EXPECT_EQ(json["resource"]["environment"], "production");
  EXPECT_EQ(json["resource"]["hosting_center"], "dc1");
  EXPECT_EQ(json["resource"]["ci_name"], "PORTAIL");
}

// Finding 8: log lines carry a timestamp (stderr is not journald here), HARD lines their
// reason, and maintenance windows and flapping say when they start and end.
TEST_F(AlerterTest, LogsSayWhatAnOperatorNeeds) {
  ASSERT_EQ(std::getenv("JOURNAL_STREAM"), nullptr) << "run the unit tests outside journald";
  ProbeSpec web = spec("web");
  web.alerting.flap_high = 30;
  web.alerting.flap_low = 20;
  store_.configure({web});
  MaintenanceWindow window;
  window.name = "nightly";
  window.start = now_ + 1s;
  window.end = now_ + 3s;
  alerter_.setMaintenance({window});
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 12; ++i) {
    run(web, i % 2 == 0 ? ProbeResult::critical("connect", "refused") : ProbeResult::ok("up"));
  }
  const std::string logs = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(std::regex_search(
      logs, std::regex(R"((^|\n)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d warning: )")))
      << logs;
  EXPECT_NE(logs.find("HARD critical reason=connect: refused"), std::string::npos) << logs;
  EXPECT_NE(logs.find("maintenance window 'nightly' started"), std::string::npos) << logs;
  EXPECT_NE(logs.find("maintenance window 'nightly' ended"), std::string::npos) << logs;
  EXPECT_NE(logs.find("probe=web: flapping started"), std::string::npos) << logs;
}

// Finding 4: one severity word per status, the same for every destination.
TEST(Severity, OneTableForEveryDestination) {
  EXPECT_EQ(severityOf(Status::Critical), "critical");
  EXPECT_EQ(severityOf(Status::Unknown), "major");
  EXPECT_EQ(severityOf(Status::Warning), "warning");
  const auto itop = itopSeverityDefaults();
  for (const SeverityLevel& level : severityTable()) {
    const auto mapped = itop.at(std::string(level.word));
    EXPECT_EQ(mapped, std::pair(level.itop_impact, level.itop_urgency)) << level.word;
  }
  EXPECT_EQ(ItopTarget().severity_map, itop);
}

class AlertDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigie-alertdb-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "vigie.db").string(); }

  static OutboxEvent event(const std::string& key, const std::string& action,
                           const std::string& destination = "crt", std::size_t padding = 0) {
    OutboxEvent e;
    e.destination = destination;
    e.dedup_key = key;
    e.event_id = newEventId(std::chrono::system_clock::now());
    e.action = action;
    e.payload = nlohmann::json{{"action", action},
                               {"event_id", e.event_id},
                               {"history", nlohmann::json::array({{{"status", action}}})},
                               {"description", std::string(padding, 'x')}}
                    .dump();
    e.created_ms = 1;
    return e;
  }

  std::filesystem::path dir_;
};

TEST_F(AlertDbTest, StateAndEventsSurviveReopening) {
  const std::int64_t before = wallMs();
  {
    AlertDb db(path(), 100);
    ASSERT_EQ(db.commit({{"web", "{\"v\":1}"}}, {event("k1", "trigger")}), WriteResult::Ok);
  }
  AlertDb db(path(), 100);
  EXPECT_EQ(db.states().load().at("web"), "{\"v\":1}");
  const auto due = db.outbox().due("crt", 0, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, "trigger");
  // A key's first seq is the wall clock in ms, so a key restarted after losing the database
  // still goes up.
  const auto payload = nlohmann::json::parse(due[0].payload);
  EXPECT_GE(payload["seq"].get<std::int64_t>(), before);
  EXPECT_LE(payload["seq"].get<std::int64_t>(), wallMs());
  EXPECT_EQ(payload["history"][0]["seq"], payload["seq"]);
}

TEST_F(AlertDbTest, AForgottenStateGoesWithTheEventsThatCloseIt) {
  {
    AlertDb db(path(), 100);
    ASSERT_EQ(db.commit({{"web", "{\"v\":1}"}, {"db", "{\"v\":2}"}}, {}), WriteResult::Ok);
    ASSERT_EQ(db.commit({{"web", std::nullopt}}, {event("k1", "resolve")}), WriteResult::Ok);
  }
  AlertDb db(path(), 100);
  const auto states = db.states().load();
  EXPECT_EQ(states.count("web"), 0u);
  EXPECT_EQ(states.at("db"), "{\"v\":2}");
  EXPECT_EQ(db.outbox().due("crt", 0, 10).size(), 1u);
}

TEST_F(AlertDbTest, UnsentEventsCoalescePerKeyAndKeepTheirHistory) {
  AlertDb db(path(), 100);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(db.commit({}, {event("k1", i % 2 == 0 ? "trigger" : "resolve")}), WriteResult::Ok);
  }
  ASSERT_EQ(db.commit({}, {event("k2", "trigger")}), WriteResult::Ok);
  // 51 transitions during an outage: one event per key, not 51.
  EXPECT_EQ(db.outbox().depth(), 2);
  const auto due = db.outbox().due("crt", 0, 10);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].dedup_key, "k1");
  EXPECT_EQ(due[0].action, "resolve");
  const auto payload = nlohmann::json::parse(due[0].payload);
  ASSERT_EQ(payload["history"].size(), 50u);
  // Each coalesced transition keeps its own seq, increasing; the event has the last one.
  for (std::size_t i = 1; i < 50; ++i) {
    EXPECT_GT(payload["history"][i]["seq"].get<std::int64_t>(),
              payload["history"][i - 1]["seq"].get<std::int64_t>());
  }
  EXPECT_EQ(payload["seq"], payload["history"][49]["seq"]);
}

TEST_F(AlertDbTest, AnAttemptedEventIsNeverRewrittenAndStaysFirst) {
  AlertDb db(path(), 100);
  ASSERT_EQ(db.commit({}, {event("k1", "trigger")}), WriteResult::Ok);
  const auto head = db.outbox().due("crt", 0, 10).at(0);
  db.outbox().attempting(head.id);  // sent, outcome unknown: its event_id must not change
  ASSERT_EQ(db.commit({}, {event("k1", "resolve")}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k1", "trigger")}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().depth(), 2);
  const auto due = db.outbox().due("crt", 0, 10);
  ASSERT_EQ(due.size(), 1u);  // one per key: the resolve waits for its trigger
  EXPECT_EQ(due[0].event_id, head.event_id);
  db.outbox().delivered(due[0].id);
  const auto next = db.outbox().due("crt", 0, 10);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].action, "update");  // resolve then trigger again, merged
}

TEST_F(AlertDbTest, AnEventReadAgainBeforeItsSendHoldsWhatItAbsorbedSinceDue) {
  // The forwarder reads a batch, then sends its events one by one: an event of the batch may
  // absorb newer transitions while the ones before it are on the wire.
  AlertDb db(path(), 100);
  ASSERT_EQ(db.commit({}, {event("k1", "trigger"), event("k2", "trigger")}), WriteResult::Ok);
  const auto batch = db.outbox().due("crt", 0, 10);
  ASSERT_EQ(batch.size(), 2u);
  db.outbox().attempting(batch[0].id);
  ASSERT_EQ(db.commit({}, {event("k2", "resolve")}), WriteResult::Ok);
  const auto current = db.outbox().event(batch[1].id);
  ASSERT_TRUE(current);
  EXPECT_EQ(current->action, "resolve");
  EXPECT_NE(current->event_id, batch[1].event_id);
  EXPECT_EQ(nlohmann::json::parse(current->payload)["history"].size(), 2u);
  db.outbox().delivered(current->id);
  EXPECT_FALSE(db.outbox().event(batch[1].id));  // gone: the forwarder skips it
}

TEST_F(AlertDbTest, ACorruptFileIsMovedAsideAndANewOneCreated) {
  const std::string garbage(8192, 'x');
  {
    std::FILE* file = std::fopen(path().c_str(), "wb");
    ASSERT_NE(file, nullptr);
    std::fwrite(garbage.data(), 1, garbage.size(), file);
    std::fclose(file);
  }
  AlertDb db(path(), 100);
  EXPECT_EQ(db.database().health(), StateHealth::File);
  EXPECT_EQ(db.database().problems().at("corrupt"), 1);
  std::vector<std::filesystem::path> aside;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("vigie.db.corrupt-", 0) == 0) {
      aside.push_back(entry.path());
    }
  }
  ASSERT_EQ(aside.size(), 1u);  // kept for a post-mortem, untouched
  EXPECT_EQ(std::filesystem::file_size(aside[0]), garbage.size());
  ASSERT_EQ(db.commit({{"web", "{}"}}, {event("k1", "trigger")}), WriteResult::Ok);
  EXPECT_EQ(db.database().schemaVersion(), kStateSchemaVersion);
}

TEST_F(AlertDbTest, AFileDeletedWhileRunningIsRecreatedWithWhatItHeld) {
  {
    AlertDb db(path(), 100);
    ASSERT_EQ(db.commit({{"web", "{\"v\":1}"}}, {event("k1", "trigger")}), WriteResult::Ok);
    for (const char* suffix : {"", "-wal", "-shm"}) {  // rm vigie.db*
      std::filesystem::remove(path() + suffix);
    }
    ASSERT_EQ(db.commit({}, {event("k2", "trigger")}), WriteResult::Ok);
    EXPECT_TRUE(std::filesystem::exists(path()));
    EXPECT_EQ(db.database().health(), StateHealth::File);
    EXPECT_EQ(db.database().problems().at("deleted"), 1);
    // Removed again between two writes: the periodic check notices it too.
    std::filesystem::remove(path());
    db.database().checkFile();
    EXPECT_EQ(db.database().problems().at("deleted"), 2);
  }
  AlertDb reopened(path(), 100);
  EXPECT_EQ(reopened.database().problems().count("corrupt"), 0u);
  EXPECT_EQ(reopened.states().load().at("web"), "{\"v\":1}");
  EXPECT_EQ(reopened.outbox().depth(), 2);
}

TEST_F(AlertDbTest, AFileReplacedWhileRunningIsReportedNotOverwritten) {
  AlertDb db(path(), 100);
  const std::string other = path() + ".restored";
  { AlertDb restored(other, 100); }
  std::filesystem::rename(other, path());
  db.database().checkFile();
  EXPECT_EQ(db.database().health(), StateHealth::Replaced);
  EXPECT_EQ(db.database().problems().at("replaced"), 1);
  EXPECT_EQ(db.commit({}, {event("k1", "trigger")}), WriteResult::Ok);
}

TEST_F(AlertDbTest, AnUnopenablePathLeavesTheAgentInMemory) {
  std::filesystem::create_directories(path());  // a folder where the file should be
  AlertDb db(path(), 100);
  EXPECT_EQ(db.database().health(), StateHealth::Memory);
  EXPECT_EQ(db.database().problems().at("unopenable"), 1);
  EXPECT_EQ(db.commit({{"web", "{}"}}, {event("k1", "trigger")}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().depth(), 1);
  EXPECT_TRUE(std::filesystem::is_directory(path()));  // left alone
}

TEST_F(AlertDbTest, AnUpdateCarryingACycleIsNotEvictedBeforeTheOldest) {
  AlertDb db(path(), 3);
  ASSERT_EQ(db.commit({}, {event("k1", "trigger")}), WriteResult::Ok);
  const auto head = db.outbox().due("crt", 0, 10).at(0);
  db.outbox().attempting(head.id);  // on the wire: k1's next events coalesce behind it
  ASSERT_EQ(db.commit({}, {event("k1", "resolve")}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k1", "trigger")}), WriteResult::Ok);  // → update, 2 items
  ASSERT_EQ(db.commit({}, {event("k2", "update")}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k3", "trigger")}), WriteResult::Ok);
  // The plain update of k2 went, not k1's cycle.
  EXPECT_EQ(db.outbox().evicted(), 1);
  std::set<std::string> actions;
  for (const auto& e : db.outbox().due("crt", 0, 10)) {
    actions.insert(e.dedup_key + ":" + e.action);
  }
  EXPECT_EQ(actions, (std::set<std::string>{"k1:trigger", "k3:trigger"}));
  db.outbox().delivered(head.id);
  const auto next = db.outbox().due("crt", 0, 10);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].action, "update");
  EXPECT_EQ(nlohmann::json::parse(next[0].payload)["history"].size(), 2u);
}

TEST_F(AlertDbTest, FullOutboxEvictsHeartbeatsThenUpdatesFirst) {
  AlertDb db(path(), 3);
  ASSERT_EQ(db.commit({}, {event("hb", "heartbeat")}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k1", "update")}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k2", "trigger")}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k3", "trigger")}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k4", "trigger")}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().depth(), 3);
  EXPECT_EQ(db.outbox().evicted(), 2);
  std::set<std::string> left;
  for (const auto& e : db.outbox().due("crt", 0, 10)) {
    left.insert(e.dedup_key);
  }
  EXPECT_EQ(left, (std::set<std::string>{"k2", "k3", "k4"}));
}

TEST_F(AlertDbTest, DiskFullIsReportedNotFatalAndRecoverable) {
  AlertDb db(path(), 1'000'000);
  ASSERT_EQ(db.commit({}, {event("k0", "trigger")}), WriteResult::Ok);
  const auto pages = db.database().pageCount();
  db.database().setMaxPageCount(pages);
  WriteResult result = WriteResult::Ok;
  std::string big(2000, 'x');
  for (int i = 0; i < 200 && result == WriteResult::Ok; ++i) {
    std::string probe = "probe";
    std::string key = "k";
    probe.append(std::to_string(i));
    key.append(std::to_string(i + 1));
    result = db.commit({{probe, big}}, {event(key, "trigger")});
  }
  EXPECT_EQ(result, WriteResult::Full);
  // The failed transaction left nothing half written, and space coming back heals it.
  const auto depth = db.outbox().depth();
  db.database().setMaxPageCount(1'000'000);
  EXPECT_EQ(db.commit({}, {event("late", "trigger")}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().depth(), depth + 1);
}

TEST_F(AlertDbTest, DeadLettersLeaveTheQueue) {
  AlertDb db(path(), 100);
  ASSERT_EQ(db.commit({}, {event("k1", "trigger"), event("k2", "trigger")}), WriteResult::Ok);
  const auto due = db.outbox().due("crt", 0, 10);
  db.outbox().deadLetter(due[0].id, "http_4xx");
  EXPECT_EQ(db.outbox().depth(), 1);
  EXPECT_EQ(db.outbox().deadLetters(), 1);
}

TEST_F(AlertDbTest, FullOutboxByBytesEvictsInTheSameOrder) {
  // Rows of about 1 kB (the padding) under a 3.5 kB bound: three fit, the fourth evicts.
  AlertDb db(path(), 1'000, 3'500);
  ASSERT_EQ(db.commit({}, {event("hb", "heartbeat", "crt", 1'000)}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k1", "update", "crt", 1'000)}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k2", "trigger", "crt", 1'000)}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().evicted(), 0);
  ASSERT_EQ(db.commit({}, {event("k3", "trigger", "crt", 1'000)}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().evicted(), 1);  // the heartbeat
  ASSERT_EQ(db.commit({}, {event("k4", "trigger", "crt", 1'000)}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().evicted(), 2);  // then the update never sent
  ASSERT_EQ(db.commit({}, {event("k5", "resolve", "crt", 1'000)}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().evicted(), 3);  // then the oldest: k2's trigger
  EXPECT_LE(db.outbox().bytes(), 3'500);
  EXPECT_EQ(db.outbox().depth(), 3);
  std::set<std::string> left;
  for (const auto& e : db.outbox().due("crt", 0, 10)) {
    left.insert(e.dedup_key);
  }
  EXPECT_EQ(left, (std::set<std::string>{"k3", "k4", "k5"}));
}

TEST_F(AlertDbTest, AMergedEventThatGrowsEvictsOthersNeverItself) {
  AlertDb db(path(), 1'000, 4'000);
  ASSERT_EQ(db.commit({}, {event("old", "trigger", "crt", 1'000)}), WriteResult::Ok);
  ASSERT_EQ(db.commit({}, {event("k1", "trigger", "crt", 1'000)}), WriteResult::Ok);
  // Each coalesced transition grows k1's history; the padding of the latest replaces the rest.
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(db.commit({}, {event("k1", i % 2 == 0 ? "resolve" : "trigger", "crt", 2'500)}),
              WriteResult::Ok);
  }
  const auto due = db.outbox().due("crt", 0, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].dedup_key, "k1");
  EXPECT_EQ(nlohmann::json::parse(due[0].payload)["history"].size(), 41u);
  EXPECT_EQ(db.outbox().evicted(), 1);
  // Alone over the bound, it stays: losing it would be worse.
  AlertDb tiny((dir_ / "tiny.db").string(), 1'000, 100);
  ASSERT_EQ(tiny.commit({}, {event("big", "trigger", "crt", 1'000)}), WriteResult::Ok);
  EXPECT_EQ(tiny.outbox().depth(), 1);
}

TEST_F(AlertDbTest, AnOutboxWithoutSizesIsMeasuredWhenOpened) {
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw,
                           "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                           "destination TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT "
                           "NULL, action TEXT NOT NULL, payload TEXT NOT NULL, created_ms INTEGER "
                           "NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms "
                           "INTEGER NOT NULL DEFAULT 0); INSERT INTO outbox (destination, "
                           "dedup_key, event_id, action, payload, created_ms) VALUES ('crt', 'k', "
                           "'e', 'trigger', '0123456789', 1)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  AlertDb db(path(), 100);
  EXPECT_EQ(db.outbox().bytes(), 10);
  ASSERT_EQ(db.commit({}, {event("k2", "trigger")}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().depth(), 2);
}

TEST_F(AlertDbTest, AHeldEventIsNotDueUntilAMergeMakesItDue) {
  AlertDb db(path(), 100);
  ASSERT_EQ(db.commit({}, {event("k1", "update")}), WriteResult::Ok);
  const auto head = db.outbox().due("crt", 0, 10).at(0);
  db.outbox().defer(head.id, 5'000);
  EXPECT_TRUE(db.outbox().due("crt", 4'999, 10).empty());
  EXPECT_EQ(db.outbox().due("crt", 5'000, 10).size(), 1u);
  // Still never sent: the next update merges into it (the latest state wins, same hold)...
  ASSERT_EQ(db.commit({}, {event("k1", "update")}), WriteResult::Ok);
  EXPECT_EQ(db.outbox().depth(), 1);
  db.outbox().defer(head.id, 5'000);
  // ...and a resolve merging in is due at once, its history carrying the updates.
  ASSERT_EQ(db.commit({}, {event("k1", "resolve")}), WriteResult::Ok);
  const auto due = db.outbox().due("crt", 0, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].action, "resolve");
  EXPECT_EQ(nlohmann::json::parse(due[0].payload)["history"].size(), 3u);
}

TEST_F(AlertDbTest, TombstonesReplaceTicketsAndExpire) {
  {
    AlertDb db(path(), 100);
    db.outbox().saveTicket("cmdb", "k1", TicketRef{4711, "I-004711", false});
    Tombstone stone;
    stone.seq = 7;
    stone.ticket_id = 4711;
    stone.until_ms = 10'000;
    ASSERT_TRUE(db.outbox().buryTicket("cmdb", "k1", stone, 1'000));
  }
  AlertDb db(path(), 100);  // a restart remembers it
  EXPECT_FALSE(db.outbox().ticket("cmdb", "k1"));
  const auto stone = db.outbox().tombstone("cmdb", "k1", 9'999);
  ASSERT_TRUE(stone);
  EXPECT_EQ(stone->seq, 7);
  EXPECT_EQ(stone->ticket_id, 4711);
  EXPECT_FALSE(db.outbox().tombstone("cmdb", "k1", 10'001));
  EXPECT_FALSE(db.outbox().tombstone("other", "k1", 0));
}

TEST_F(AlertDbTest, AFileOfTheReleaseBeforeVersioningIsMigratedWithItsRows) {
  // tests/data/state/vigie-v1.db: schema version 1 as that release wrote it, unversioned.
  std::filesystem::copy_file(std::filesystem::path(VIGIE_TEST_DATA_DIR) / "state/vigie-v1.db",
                             path());
  {
    AlertDb db(path(), 100);
    EXPECT_EQ(db.database().schemaVersion(), kStateSchemaVersion);
    const auto state = decodeAlertState(db.states().load().at("web"));
    ASSERT_TRUE(state);
    EXPECT_EQ(state->status, Status::Critical);
    EXPECT_EQ(state->attempt, 3);
    const auto due = db.outbox().due("crt", 0, 10);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].event_id, "01JDV1FIXTURE00000000000001");
    EXPECT_EQ(db.outbox().bytes(), static_cast<std::int64_t>(due[0].payload.size()));
    EXPECT_EQ(db.outbox().ticket("cmdb", "vigie:web")->ref, "I-004711");
    EXPECT_EQ(db.outbox().tombstone("cmdb", "vigie:db", 0)->seq, 9);
    EXPECT_EQ(db.outbox().deadLetters(), 1);
    EXPECT_EQ(db.database().scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'outbox_due'"),
              1);
    // The key's sequence goes on from the saved one; the unsent trigger absorbs the update.
    auto next = event("vigie:web", "update");
    ASSERT_EQ(db.commit({}, {next}), WriteResult::Ok);
    const auto merged = nlohmann::json::parse(db.outbox().due("crt", 0, 10).at(0).payload);
    EXPECT_GE(merged["seq"].get<std::int64_t>(), 5);
    EXPECT_EQ(merged["action"], "trigger");
  }
  AlertDb again(path(), 100);  // a migrated file opens as it is
  EXPECT_EQ(again.database().schemaVersion(), kStateSchemaVersion);
  EXPECT_EQ(again.outbox().depth(), 1);
}

TEST_F(AlertDbTest, ANewerSchemaIsRefusedAndLeftUntouched) {
  const std::int64_t newer = kStateSchemaVersion + 1;
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &raw), SQLITE_OK);
    const std::string sql = "CREATE TABLE future (x); PRAGMA user_version=" + std::to_string(newer);
    ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  try {
    AlertDb db(path(), 100);
    FAIL() << "a newer schema was opened";
  } catch (const NewerSchemaError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path()), std::string::npos) << message;
    EXPECT_NE(message.find("schema version " + std::to_string(newer)), std::string::npos)
        << message;
    EXPECT_NE(message.find("up to " + std::to_string(kStateSchemaVersion)), std::string::npos)
        << message;
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* version = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &version, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(version), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(version, 0), newer);
  sqlite3_finalize(version);
  sqlite3_close(raw);
}

TEST(ItopRequests, TicketStatusIsReadByItsId) {
  ItopTarget target;
  const auto get = itopGetTicket(target, 4711);
  EXPECT_EQ(get["operation"], "core/get");
  EXPECT_EQ(get["class"], "Incident");
  EXPECT_EQ(get["key"], 4711);
  EXPECT_NE(get["output_fields"].get<std::string>().find("status"), std::string::npos);
}

TEST(ForwardingConfig, SizesDurationsAndTheirErrors) {
  const std::string head = R"(agent: { listen: "127.0.0.1:0", state_dir: /tmp }
probes: []
forwarding:
)";
  const std::string itop = R"(  itop:
    - name: cmdb
      url: https://itop.example/webservices/rest.php
      username: u
      password: p
      organization: "1"
)";
  const AgentConfig config = test::loadYaml(
      head + "  spool_max_bytes: 512KiB\n  unwritten_max_events: 50\n" + itop +
      "      ci_cache_ttl: 10m\n      update_interval: 0s\n      tombstone_ttl: 2h\n");
  EXPECT_EQ(config.forwarding.spool_max_bytes, 512 * 1024);
  EXPECT_EQ(config.forwarding.unwritten_max_events, 50);
  ASSERT_EQ(config.forwarding.destinations.size(), 1u);
  const auto* target = dynamic_cast<const ItopTarget*>(config.forwarding.destinations[0].get());
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->ci_cache_ttl, 10min);
  EXPECT_EQ(target->update_interval, 0ms);
  EXPECT_EQ(target->tombstone_ttl, 2h);
  EXPECT_EQ(test::loadYaml(head + "  spool_max_bytes: 100000\n").forwarding.spool_max_bytes,
            100'000);
  EXPECT_EQ(test::loadYaml(head + "  spool_max_bytes: 1GB\n").forwarding.spool_max_bytes,
            1'000'000'000);
  const auto errors = [&head](const std::string& tail) {
    try {
      test::loadYaml(head + tail);
    } catch (const ConfigError& error) {
      std::string all;
      for (const ConfigIssue& issue : error.issues()) {
        all += issue.key_path + ": " + issue.message + "\n";
      }
      return all;
    }
    return std::string("no error");
  };
  EXPECT_EQ(errors("  spool_max_bytes: 64 potatoes\n"),
            "forwarding.spool_max_bytes: expected a size like 65536, 512KiB or 64MiB, got '64 "
            "potatoes'\n");
  EXPECT_EQ(errors("  spool_max_bytes: 999999999999999GiB\n"),
            "forwarding.spool_max_bytes: too large\n");
  EXPECT_EQ(errors("  spool_max_bytes: 1KiB\n"),
            "forwarding.spool_max_bytes: must be at least 65536 bytes\n");
  EXPECT_EQ(errors("  unwritten_max_events: 3\n"),
            "forwarding.unwritten_max_events: must be at least 10\n");
  EXPECT_EQ(errors(itop + "      ci_cache_ttl: 0s\n"),
            "forwarding.itop[0].ci_cache_ttl: must be greater than 0s\n");
}

}  // namespace
}  // namespace vigie
