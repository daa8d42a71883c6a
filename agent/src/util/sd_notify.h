// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <string>

namespace vigie {

/// Tells systemd (Type=notify) where the agent is in its life, and feeds its watchdog from the
/// event loop so a loop that stops turning gets the service restarted. Every call is a no-op
/// when NOTIFY_SOCKET is unset, e.g. when run by hand.
class SystemdNotifier {
 public:
  explicit SystemdNotifier(asio::io_context& io);

  /// READY=1 with a STATUS= line; starts feeding the watchdog if systemd asked for one.
  void ready(const std::string& status);
  /// RELOADING=1 with MONOTONIC_USEC=, as systemd wants before the READY=1 that ends a reload.
  void reloading();
  /// STOPPING=1; stops feeding the watchdog.
  void stopping();
  void status(const std::string& status);

 private:
  void send(const std::string& message);
  void feedWatchdog();

  asio::steady_timer watchdog_timer_;
  std::chrono::microseconds watchdog_interval_{0};
  bool watchdog_running_ = false;
};

}  // namespace vigie
