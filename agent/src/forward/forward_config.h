// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
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
};

struct WebhookTarget : HttpTarget {
  std::string hmac_secret;  ///< secret: signs the body (X-Vigie-Signature: sha256=HEX)
};

struct AlertmanagerTarget : HttpTarget {
  std::chrono::milliseconds resend_interval{60'000};
  std::chrono::milliseconds resolved_retention{15 * 60'000};
};

/// The `forwarding:` block: where alerts go and how the outbox behaves.
struct ForwardingConfig {
  std::vector<WebhookTarget> webhooks;
  std::vector<AlertmanagerTarget> alertmanagers;
  /// Events kept at most in the outbox (over every destination); see docs/ALERTING.md.
  std::int64_t spool_max_events = 10'000;
  std::chrono::milliseconds heartbeat_interval{60'000};
  /// Firing alerts are told again this often, so a receiver that lost one catches up.
  std::chrono::milliseconds reassert_interval{15 * 60'000};
  /// Requests per second per destination at most, so a backlog does not flood the receiver.
  double drain_rate = 20;
  std::chrono::milliseconds backoff_base{2'000};
  std::chrono::milliseconds backoff_cap{5 * 60'000};

  bool enabled() const { return !webhooks.empty() || !alertmanagers.empty(); }
};

}  // namespace vigie
