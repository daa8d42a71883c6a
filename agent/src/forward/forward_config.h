// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigie {

/// Settings shared by every HTTP destination.
struct HttpTarget {
  std::string name;
  std::vector<std::string> urls;
  std::chrono::milliseconds timeout{10'000};
  bool tls_verify = true;
  std::string tls_ca_file;
  std::string username;
  std::string password;  ///< secret: never logged

  bool operator==(const HttpTarget&) const = default;
};

/// One `forwarding.<type>` entry. Each type of destination (forward/destinations.cc) has its
/// own settings and registers under its type name how to deliver to each of its URLs.
struct DestinationTarget : HttpTarget {
  virtual ~DestinationTarget() = default;
  virtual std::string_view type() const = 0;
  /// Same type, same settings (a reload that changes nothing keeps deliveries running).
  virtual bool equals(const DestinationTarget& other) const = 0;

 protected:
  DestinationTarget() = default;
  DestinationTarget(const DestinationTarget&) = default;
  DestinationTarget& operator=(const DestinationTarget&) = default;

  template <typename Self>
  static bool sameAs(const Self& self, const DestinationTarget& other) {
    const auto* same = dynamic_cast<const Self*>(&other);
    return same != nullptr && self == *same;
  }
};

struct WebhookTarget : DestinationTarget {
  std::string hmac_secret;  ///< secret: signs the body (X-Vigie-Signature: sha256=HEX)

  std::string_view type() const override { return "webhook"; }
  bool equals(const DestinationTarget& other) const override { return sameAs(*this, other); }
  bool operator==(const WebhookTarget&) const = default;
};

struct AlertmanagerTarget : DestinationTarget {
  std::chrono::milliseconds resend_interval{60'000};
  std::chrono::milliseconds resolved_retention{15 * 60'000};

  std::string_view type() const override { return "alertmanager"; }
  bool equals(const DestinationTarget& other) const override { return sameAs(*this, other); }
  bool operator==(const AlertmanagerTarget&) const = default;
};

/// iTop REST/JSON API (webservices/rest.php): one ticket per alert key.
/// iTop's impact and urgency for each severity word of the severity table.
std::map<std::string, std::pair<int, int>> itopSeverityDefaults();

struct ItopTarget : DestinationTarget {
  std::string version = "1.3";
  /// form (auth_user/auth_pwd) or basic; no Auth-Token: core iTop 3.2 needs an extension for it.
  std::string auth = "form";
  std::string ticket_class = "Incident";
  std::string organization;  ///< org_id: an id, or OQL such as SELECT Organization WHERE ...
  std::string caller;        ///< caller_id, optional
  std::string service;       ///< service_id, optional (needed by some resolutions)
  std::string ci_class = "FunctionalCI";
  bool autoresolve = false;  ///< on_resolve: autoresolve (ev_autoresolve) or log_only
  std::string resolution_code = "other";
  /// severity word → (impact, urgency); defaults from the one severity table (alert/event.h).
  std::map<std::string, std::pair<int, int>> severity_map = itopSeverityDefaults();
  /// How long a CI lookup (how many CIs bear the name) is reused before iTop is asked again.
  std::chrono::milliseconds ci_cache_ttl{3'600'000};
  /// One log entry per key at most this often; updates in between coalesce (0: no limit).
  std::chrono::milliseconds update_interval{300'000};
  /// How long a resolved key is remembered, so late or duplicate events leave its ticket alone.
  std::chrono::milliseconds tombstone_ttl{86'400'000};

  std::string_view type() const override { return "itop"; }
  bool equals(const DestinationTarget& other) const override { return sameAs(*this, other); }
  bool operator==(const ItopTarget&) const = default;
};

/// The `forwarding:` block: where alerts go and how the outbox behaves.
struct ForwardingConfig {
  /// Every destination, whatever its type, in the order written.
  std::vector<std::shared_ptr<const DestinationTarget>> destinations;
  /// Events kept at most in the outbox (over every destination); see docs/ALERTING.md.
  std::int64_t spool_max_events = 10'000;
  /// Payload bytes kept at most in the outbox; same eviction order as spool_max_events.
  std::int64_t spool_max_bytes = std::int64_t{64} << 20;
  /// Events held in memory while the outbox cannot be written (disk full); beyond, the same
  /// eviction order applies and vigie_forwarder_lost_events_total counts them.
  std::int64_t unwritten_max_events = 1'000;
  std::chrono::milliseconds heartbeat_interval{60'000};
  /// Firing alerts are told again this often, so a receiver that lost one catches up.
  std::chrono::milliseconds reassert_interval{15 * 60'000};
  /// Requests per second per destination at most, so a backlog does not flood the receiver.
  double drain_rate = 20;
  std::chrono::milliseconds backoff_base{2'000};
  std::chrono::milliseconds backoff_cap{5 * 60'000};

  bool operator==(const ForwardingConfig& other) const;
  bool enabled() const { return !destinations.empty(); }
};

}  // namespace vigie
