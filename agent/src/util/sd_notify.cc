// SPDX-License-Identifier: Apache-2.0
#include "util/sd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstring>
#include <ctime>

#include "util/log.h"

namespace vigie {

SystemdNotifier::SystemdNotifier(asio::io_context& io) : watchdog_timer_(io) {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    // Half the timeout, as sd_watchdog_enabled(3) advises, so one late tick is not fatal.
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
  }
}

void SystemdNotifier::send(const std::string& message) {
  const int rc = sd_notify(0, message.c_str());
  if (rc < 0) {
    logWarning("sd_notify failed: " + std::string(std::strerror(-rc)));
  }
}

void SystemdNotifier::ready(const std::string& status) {
  std::string message = "READY=1\nSTATUS=";
  message.append(status);
  send(message);
  if (watchdog_interval_.count() > 0 && !watchdog_running_) {
    watchdog_running_ = true;
    feedWatchdog();
  }
}

void SystemdNotifier::reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000U +
                    static_cast<std::uint64_t>(now.tv_nsec) / 1000U;
  std::string message = "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=";
  message.append(std::to_string(usec));
  send(message);
}

void SystemdNotifier::stopping() {
  watchdog_running_ = false;
  watchdog_timer_.cancel();
  send("STOPPING=1\nSTATUS=stopping");
}

void SystemdNotifier::status(const std::string& status) {
  std::string message = "STATUS=";
  message.append(status);
  send(message);
}

void SystemdNotifier::feedWatchdog() {
  send("WATCHDOG=1");
  watchdog_timer_.expires_after(watchdog_interval_);
  watchdog_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec && watchdog_running_) {
      feedWatchdog();
    }
  });
}

}  // namespace vigie
