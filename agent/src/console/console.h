// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alert/alerter.h"
#include "config/agent_config.h"
#include "forward/console_db.h"
#include "forward/delivery.h"
#include "forward/outbox.h"
#include "http/http_server.h"
#include "state/state_store.h"

namespace vigie {

/// Who acts: the authenticated user on TCP (request.user), the peer's Unix user on the local
/// socket, and through which door (http, socket, form), from where (for the audit trail).
struct Actor {
  std::string name;
  std::string via;
  std::string remote;
};

/// An action's answer: the HTTP status and the JSON body (null for 204).
struct ActionResult {
  int http_status = 200;
  nlohmann::json body;
};

/// The filters of GET /api/v1/probes (docs/API.md), all combined with AND.
struct ProbeQuery {
  std::vector<std::string> statuses;  ///< status words; empty means all
  /// Label name → accepted values (OR within one label).
  std::map<std::string, std::vector<std::string>> labels;
  std::string text;  ///< q=: the name contains it
  bool problems = false;
  /// Only HARD problems (GET /api/v1/alerts).
  bool hard_problems = false;

  /// Parses the query string (without '?'): status=, label.X=, q=, problems=1. Unknown
  /// parameters are ignored.
  static ProbeQuery fromQueryString(std::string_view query);
};

/// POST /api/v1/silences: a probe or labels, duration or ends_at, optional starts_at.
struct SilenceRequest {
  std::string probe;
  Labels labels;
  std::optional<std::chrono::milliseconds> duration;
  std::optional<WallTime> ends_at;
  std::optional<WallTime> starts_at;
  std::string comment;

  /// nullopt and `error` set when the body does not say a valid silence.
  static std::optional<SilenceRequest> fromJson(const nlohmann::json& body, std::string& error);
};

/// The operator console's backend: the JSON documents of docs/API.md read from the agent's
/// state, and the actions (acknowledge, silence, run now, replay), audited. Lives on the event
/// loop like the state it reads: no locks, and reads build their JSON straight from the store.
class Console {
 public:
  struct Hooks {
    /// Runs a probe out of turn; false when the scheduler does not know it.
    std::function<bool(const std::string&)> run_now;
    /// Persists and forwards an update (AlertSink::record).
    std::function<void(AlertUpdate)> forward;
    /// Wakes delivery after a replay.
    std::function<void()> wake;
  };

  /// `db` may be null (tests): nothing is persisted then.
  Console(StateStore& store, Alerter& alerter, StateDatabase* db, Hooks hooks);

  /// Agent name, time zone, probe timings, whether the endpoint has users.
  void configure(const AgentConfig& config);
  /// Once, after the store has its probes and their restored alert states: puts back the
  /// acknowledgements and silences saved before a restart.
  void restore(WallTime now);
  /// A delivery attempt's outcome, kept in its probe's history (a failure repeated by retries
  /// once).
  void onDelivery(const OutboxEvent& event, const Classified& result);
  /// After each probe result: forgets a cleared acknowledgement, ends expired silences.
  void afterUpdate(const AlertUpdate& update, WallTime now);

  /// The probes a query selects, failing first (docs/API.md's order), for the status page to
  /// render from directly; `counts` (if given) gets every probe's rank: critical, unknown,
  /// warning, ok, pending.
  std::vector<const ProbeState*> select(const ProbeQuery& query,
                                        std::array<int, 5>* counts = nullptr) const;
  /// GET /api/v1/probes as JSON text, written directly (10,000 probes in a few ms). With a
  /// `limit`, only the probes [offset, offset + limit) of the selection, and `total` and
  /// `offset` fields (the status page's pages).
  std::string probesText(const ProbeQuery& query, std::size_t offset = 0,
                         std::optional<std::size_t> limit = std::nullopt) const;
  nlohmann::json probes(const ProbeQuery& query) const;
  std::optional<nlohmann::json> probe(const std::string& name) const;
  nlohmann::json alerts() const;
  nlohmann::json acknowledgements() const;
  nlohmann::json silences() const;
  nlohmann::json outbox() const;
  std::optional<nlohmann::json> deadLetters(const std::string& destination) const;
  nlohmann::json audit(std::int64_t limit) const;

  ActionResult acknowledge(const Actor& actor, const std::string& probe,
                           const std::string& comment);
  ActionResult unacknowledge(const Actor& actor, const std::string& probe);
  ActionResult silence(const Actor& actor, const SilenceRequest& request);
  ActionResult unsilence(const Actor& actor, const std::string& id);
  ActionResult runNow(const Actor& actor, const std::string& probe);
  ActionResult replay(const Actor& actor, const std::string& destination, std::int64_t id);

  /// The /api/v1 router for both doors: the TCP endpoint passes an Actor built from
  /// request.user (via "http"), the local socket one built from the peer's credentials (via
  /// "socket", trusted as an operator).
  HttpResponse handleApi(const HttpRequest& request, const Actor& actor);

 private:
  struct Timing {
    double interval_seconds = 0;
    double timeout_seconds = 0;
  };

  /// A PROBE_SUMMARY object appended as JSON text; with `firing_since` for the alerts list.
  void appendSummary(std::string& out, const ProbeState& state, WallTime now,
                     bool firing_since) const;
  nlohmann::json silenceJson(const Silence& silence, WallTime now) const;
  nlohmann::json time(WallTime at) const;
  std::string local(WallTime at) const;
  void recordAction(const Actor& actor, const std::string& action, const std::string& target,
                    const std::string& detail, WallTime now);
  void expireSilences(WallTime now);
  HttpResponse route(const HttpRequest& request, const Actor& actor);

  StateStore& store_;
  Alerter& alerter_;
  /// Reads of the database (outbox, audit) are logically const.
  mutable std::optional<ConsoleDb> db_;
  Hooks hooks_;
  std::string agent_;
  std::string timezone_;
  const date::time_zone* zone_ = nullptr;
  bool endpoint_has_users_ = false;
  std::map<std::string, Timing> timings_;
  /// The zone's offset over the period that contains the last time formatted.
  struct LocalTimeCache {
    std::chrono::sys_seconds begin{};
    std::chrono::sys_seconds end{};
    std::chrono::seconds offset{};
    std::string suffix;
  };
  mutable LocalTimeCache local_cache_;
  /// Audit lines when there is no database (tests), newest last, bounded.
  std::vector<AuditEntry> memory_audit_;
};

}  // namespace vigie
