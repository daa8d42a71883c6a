// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "alert/alerter.h"
#include "config/agent_config.h"
#include "console/console.h"
#include "console/html_routes.h"
#include "forward/alert_sink.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "scheduler/scheduler.h"
#include "state/state_store.h"
#include "util/sd_notify.h"
#include "vigie/registry.h"

namespace vigie {

/// The running agent: one event loop that owns the scheduler, the probes in flight, the state
/// store and the HTTP endpoint. Reloads on SIGHUP and POST /-/reload, stops on SIGTERM/SIGINT.
class Daemon {
 public:
  /// Binds the HTTP listener; throws std::system_error when it cannot.
  Daemon(std::string config_path, std::shared_ptr<const ProbeRegistry> registry,
         AgentConfig config);

  /// Runs until SIGTERM or SIGINT; returns the process exit code.
  int run();

 private:
  struct ActiveProbe {
    Scheduler::ProbeId id;
    ProbeSpec spec;
    asio::cancellation_signal cancel;
    bool running = false;
  };
  using ActivePtr = std::shared_ptr<ActiveProbe>;

  void apply(AgentConfig config);
  /// Loads the config file again; returns the errors, empty on success.
  std::string reload();
  void startProbe(Scheduler::ProbeId id, TimePoint due);
  asio::awaitable<void> execute(ActivePtr probe);
  void pump();
  void waitForSignal();
  void beginShutdown();
  HttpResponse handle(const HttpRequest& request);

  asio::io_context io_;
  SystemdNotifier notifier_{io_};
  std::string config_path_;
  /// Rebuilt on reload (plugins may come and go); probes keep their plugin loaded themselves.
  std::shared_ptr<const ProbeRegistry> registry_;
  AgentConfig config_;
  SteadyClock clock_;
  Scheduler scheduler_;
  asio::steady_timer wake_;
  std::optional<TimePoint> armed_;
  asio::steady_timer shutdown_guard_;
  asio::signal_set signals_;
  StateStore store_;
  Alerter alerter_;
  std::unique_ptr<AlertSink> alerts_;
  /// The operator console: /api/v1 on the endpoint (and the local socket).
  std::unique_ptr<Console> console_;
  /// The console's HTML pages and form actions, over console_.
  std::unique_ptr<ConsolePages> pages_;
  bool restored_ = false;
  SelfMetrics self_;
  HttpServer http_;
  std::map<std::string, ActivePtr> by_name_;
  std::unordered_map<Scheduler::ProbeId, ActivePtr> by_id_;
  Scheduler::ProbeId next_id_ = 1;
  bool stopping_ = false;
};

}  // namespace vigie
