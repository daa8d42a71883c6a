// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace vigie::probes::dns {

struct ExchangeOptions {
  /// c-ares's server list ("192.0.2.53:53", "[2001:db8::53]:53"); empty for the system's
  /// resolver configuration (/etc/resolv.conf).
  std::string servers;
  /// TCP only; otherwise UDP, and TCP again when the answer comes back truncated.
  bool tcp_only = false;
  /// How long c-ares waits for one server before it gives up (or tries the next one).
  std::chrono::milliseconds timeout{5000};
};

struct ExchangeResult {
  int status = 0;  ///< ARES_SUCCESS, or why no answer came (ARES_ETIMEOUT, ARES_ECONNREFUSED...)
  std::vector<unsigned char> answer;
};

/// Sends `query`, a complete DNS message, with c-ares and completes with the answer, whatever its
/// rcode. c-ares's sockets and timeouts are driven by the Asio loop (its socket-state callback
/// tells which descriptors to watch), so any number of exchanges run on the one thread.
/// Cancelling the coroutine cancels the query at once (status ARES_ECANCELLED).
asio::awaitable<ExchangeResult> exchange(asio::any_io_executor executor,
                                         const ExchangeOptions& options,
                                         const std::vector<unsigned char>& query);

}  // namespace vigie::probes::dns
