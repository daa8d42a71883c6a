// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "forward/forward_config.h"

namespace vigie {

/// How one delivery attempt ended (docs/ALERTING.md, error taxonomy).
enum class Outcome {
  Delivered,
  Retryable,  ///< network error, timeout, 5xx, 429: retried with backoff, events kept
  Permanent,  ///< other 4xx: the event goes to the dead-letter table, loudly
  Auth,       ///< 401/403: retried slowly (every backoff_cap), events kept, loudly
  /// The receiver named a mistake of our configuration (iTop: unknown organization, class,
  /// caller or service; missing rights): retried slowly, events held (never dead-lettered: a
  /// fixed configuration delivers them), its message logged once per change.
  Config,
};

struct HttpReply {
  int curl_code = 0;  ///< CURLcode
  long status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
  std::string error;  ///< libcurl's own words when the transfer failed
};

struct Classified {
  Outcome outcome = Outcome::Retryable;
  std::string reason;  ///< fixed word for the failures metric: network, timeout, http_5xx...
  /// What the receiver (or libcurl) said, for the log: "HTTP 503: <body start>", iTop's message.
  std::string detail;
};

Classified classify(const HttpReply& reply);

/// `url` without the user and password it may carry, for the log.
std::string redactedUrl(const std::string& url);

/// Wall-clock milliseconds since the epoch: the outbox's and the tombstones' time scale.
std::int64_t wallMs();

/// Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^failures)]. `uniform01` is
/// a random number in [0, 1), passed in so the function stays pure.
std::chrono::milliseconds fullJitterBackoff(int failures, std::chrono::milliseconds base,
                                            std::chrono::milliseconds cap, double uniform01);

/// "120" or an HTTP date, as seconds from `now`.
std::optional<std::chrono::seconds> parseRetryAfter(const std::string& value,
                                                    std::chrono::system_clock::time_point now);

/// HMAC-SHA256 of `body` with `secret`, lower-case hex.
std::string hmacSha256Hex(const std::string& secret, const std::string& body);

/// POSTs `body` on the event loop (libcurl multi). TLS verification follows `target`.
asio::awaitable<HttpReply> httpPost(const HttpTarget& target, const std::string& url,
                                    const std::string& body,
                                    const std::vector<std::string>& headers);

}  // namespace vigie
