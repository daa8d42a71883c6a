// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon.h"

#include <algorithm>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <csignal>
#include <filesystem>

#include "config/loader.h"
#include "http/web_config.h"
#include "runner/probe_runner.h"
#include "util/log.h"

namespace vigie {

Daemon::Daemon(std::string config_path, std::shared_ptr<const ProbeRegistry> registry,
               AgentConfig config)
    : config_path_(std::move(config_path)),
      registry_(std::move(registry)),
      scheduler_(static_cast<std::size_t>(config.agent.max_concurrent_probes),
                 [this](Scheduler::ProbeId id, TimePoint due) { startProbe(id, due); }),
      wake_(io_),
      shutdown_guard_(io_),
      signals_(io_, SIGHUP, SIGTERM, SIGINT),
      alerter_(config.agent.name),
      http_(io_, config.agent.listen_host, config.agent.listen_port,
            [this](const HttpRequest& request) { return handle(request); }) {
  std::error_code ec;
  std::filesystem::create_directories(config.agent.state_dir, ec);
  if (ec) {
    logWarning("cannot create state_dir " + config.agent.state_dir + ": " + ec.message());
  }
  logInfo("listening on " + config.agent.listen_host + ":" + std::to_string(http_.port()));
  alerts_ = std::make_unique<AlertSink>(io_, config.agent.name, config.agent.state_dir);
  Console::Hooks hooks;
  hooks.run_now = [this](const std::string& name) {
    const auto probe = by_name_.find(name);
    if (probe == by_name_.end()) {
      return false;
    }
    scheduler_.runNow(probe->second->id, clock_.now());
    pump();
    return true;
  };
  hooks.forward = [this](AlertUpdate update) { alerts_->record(std::move(update)); };
  hooks.wake = [this] { alerts_->wake(); };
  console_ = std::make_unique<Console>(store_, alerter_, &alerts_->database(), std::move(hooks));
  pages_ = std::make_unique<ConsolePages>(*console_);
  alerts_->setAttemptObserver([this](const OutboxEvent& event, const Classified& result) {
    console_->onDelivery(event, result);
  });
  apply(std::move(config));
  self_.configReloaded(true, std::chrono::system_clock::now());
}

int Daemon::run() {
  http_.start();
  waitForSignal();
  logInfo("started with " + std::to_string(by_name_.size()) + " probes from " + config_path_);
  notifier_.ready(std::to_string(by_name_.size()) + " probes, listening on port " +
                  std::to_string(http_.port()));
  io_.run();
  logInfo("stopped");
  return 0;
}

void Daemon::apply(AgentConfig config) {
  const TimePoint now = clock_.now();
  std::map<std::string, ActivePtr> next;
  for (const ProbeSpec& spec : config.probes) {
    auto old = by_name_.find(spec.name);
    if (old != by_name_.end() && old->second->spec.fingerprint == spec.fingerprint) {
      // Unchanged: same instance, same schedule, same state.
      next.emplace(spec.name, old->second);
      by_name_.erase(old);
      continue;
    }
    auto probe = std::make_shared<ActiveProbe>();
    probe->id = next_id_++;
    probe->spec = spec;
    scheduler_.add(probe->id, spec.name, spec.interval, now);
    by_id_.emplace(probe->id, probe);
    next.emplace(spec.name, std::move(probe));
  }
  for (auto& [name, removed] : by_name_) {
    scheduler_.remove(removed->id);
    by_id_.erase(removed->id);
    if (removed->running) {
      removed->cancel.emit(asio::cancellation_type::terminal);
    }
  }
  by_name_ = std::move(next);
  const WallTime wall_now = std::chrono::system_clock::now();
  alerts_->close(alerter_.closeRemoved(config.probes, store_, wall_now));
  store_.configure(config.probes);
  alerter_.setMaintenance(config.maintenance);
  alerter_.setTimeZone(config.agent.zone);
  alerter_.setUnreachableWhenHard(config.agent.unreachable_when_hard);
  alerts_->configure(config.forwarding);
  if (!restored_) {
    restored_ = true;
    RestoredAlerts restored = alerter_.restore(alerts_->savedStates(), store_, wall_now);
    alerts_->assumeFiring(restored.firing);
    alerts_->close(std::move(restored.closed));
    console_->restore(wall_now);
  }
  console_->configure(config);
  scheduler_.setMaxConcurrent(static_cast<std::size_t>(config.agent.max_concurrent_probes));
  self_.setProbesConfigured(config.probes.size());
  if (!config_.source_file.empty() && (config.agent.listen_host != config_.agent.listen_host ||
                                       config.agent.listen_port != config_.agent.listen_port)) {
    logWarning("agent.listen changed: restart the agent to apply it");
  }
  setLogLevel(config.agent.log_level);
  for (const ConfigIssue& warning : config.warnings) {
    logWarning("configuration: " + warning.format());
  }
  http_.setWebConfig(config.agent.web);
  if (config.agent.web) {
    logInfo("endpoint: TLS " + std::string(config.agent.web->tls ? "on" : "off") +
            ", basic auth for " + std::to_string(config.agent.web->basic_auth_users.size()) +
            " users, from " + config.agent.web_config_file);
  }
  config_ = std::move(config);
  pump();
}

std::string Daemon::reload() {
  try {
    LoadedConfig loaded = loadConfig(config_path_);
    apply(std::move(loaded.config));
    registry_ = std::move(loaded.registry);
  } catch (const ConfigError& e) {
    for (const ConfigIssue& issue : e.issues()) {
      logError("reload rejected: " + issue.format());
    }
    logError("reload rejected: keeping the running configuration");
    self_.configReloaded(false, std::chrono::system_clock::now());
    return e.what();
  }
  self_.configReloaded(true, std::chrono::system_clock::now());
  logInfo("configuration reloaded: " + std::to_string(by_name_.size()) + " probes");
  return {};
}

void Daemon::pump() {
  if (stopping_) {
    return;
  }
  // The scheduler starts every probe due in the current window (startWindow: 128 ms at 15 s)
  // in this one wake-up, so their connects, answers and closes share wake-ups too.
  const auto next = scheduler_.poll(clock_.now());
  if (!next || (armed_ && *armed_ == *next)) {
    return;
  }
  armed_ = next;
  wake_.expires_at(*next);
  wake_.async_wait([this](const asio::error_code& ec) {
    if (!ec) {
      armed_.reset();
      pump();
    }
  });
}

void Daemon::startProbe(Scheduler::ProbeId id, TimePoint due) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    return;
  }
  // Started ahead of time (see pump) is not late.
  self_.observeLateness(std::max(0.0, std::chrono::duration<double>(clock_.now() - due).count()));
  ActivePtr probe = it->second;
  probe->running = true;
  asio::co_spawn(io_, execute(probe),
                 asio::bind_cancellation_slot(probe->cancel.slot(), [](std::exception_ptr error) {
                   if (error) {
                     // execute() catches everything a probe throws; this is an agent bug.
                     std::rethrow_exception(error);
                   }
                 }));
}

asio::awaitable<void> Daemon::execute(ActivePtr probe) {
  RunOutcome outcome = co_await runProbe(*probe->spec.probe, probe->spec.name, probe->spec.timeout);
  probe->running = false;
  const bool current = by_id_.count(probe->id) != 0;
  std::optional<Millis> retry_after;
  if (current && !outcome.cancelled) {
    AlertUpdate update =
        alerter_.onResult(store_, probe->spec, std::move(outcome.result), outcome.duration_seconds,
                          std::chrono::system_clock::now());
    retry_after = update.retry_after;
    for (const std::string& name : update.run_now) {
      if (auto other = by_name_.find(name); other != by_name_.end()) {
        scheduler_.runNow(other->second->id, clock_.now());
      }
    }
    console_->afterUpdate(update, std::chrono::system_clock::now());
    alerts_->record(std::move(update));
  }
  if (retry_after) {
    scheduler_.finished(probe->id, clock_.now(), *retry_after);
  } else {
    scheduler_.finished(probe->id, clock_.now());
  }
  if (stopping_) {
    if (scheduler_.running() == 0) {
      io_.stop();
    }
  } else {
    pump();
  }
}

void Daemon::waitForSignal() {
  signals_.async_wait([this](const asio::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    if (signal == SIGHUP) {
      logInfo("SIGHUP: reloading " + config_path_);
      notifier_.reloading();
      const bool reloaded = reload().empty();
      notifier_.ready(std::to_string(by_name_.size()) + " probes" +
                      (reloaded ? "" : ", last reload rejected"));
      waitForSignal();
      return;
    }
    logInfo(std::string(signal == SIGTERM ? "SIGTERM" : "SIGINT") + ": stopping");
    beginShutdown();
  });
}

void Daemon::beginShutdown() {
  stopping_ = true;
  notifier_.stopping();
  asio::error_code ignored;
  signals_.cancel(ignored);
  wake_.cancel();
  http_.stop();
  alerts_->stop();
  std::size_t running = 0;
  for (auto& [id, probe] : by_id_) {
    if (probe->running) {
      ++running;
      probe->cancel.emit(asio::cancellation_type::terminal);
    }
  }
  if (running == 0) {
    io_.stop();
    return;
  }
  // Probes stop at once when cancelled; the guard only covers one that ignores cancellation.
  Millis longest{0};
  for (auto& [name, probe] : by_name_) {
    longest = std::max(longest, probe->spec.timeout);
  }
  shutdown_guard_.expires_after(longest);
  shutdown_guard_.async_wait([this](const asio::error_code& ec) {
    if (!ec) {
      logWarning("probes still running at shutdown deadline; stopping anyway");
      io_.stop();
    }
  });
}

HttpResponse Daemon::handle(const HttpRequest& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  // Each path answers its own methods only: a PUT or a GET must never reload.
  const auto only = [&request](std::initializer_list<std::string_view> methods,
                               std::string_view allow) -> std::optional<HttpResponse> {
    if (std::find(methods.begin(), methods.end(), request.method) != methods.end()) {
      return std::nullopt;
    }
    return HttpResponse{405, "text/plain; charset=utf-8", "method not allowed\n",
                        std::string(allow)};
  };
  const bool known_path = path == "/metrics" || path == "/-/healthy" || path == "/-/ready";
  if (known_path) {
    if (auto refused = only({"GET", "HEAD"}, "GET, HEAD")) {
      return *refused;
    }
  }
  if (path == "/metrics") {
    return {200,
            "text/plain; version=0.0.4; charset=utf-8",
            renderMetrics(store_, self_) + alerts_->renderMetrics(),
            {}};
  }
  if (path == "/-/healthy") {
    return {200, "text/plain; charset=utf-8", "Healthy\n", {}};
  }
  if (path == "/-/ready") {
    return stopping_ ? HttpResponse{503, "text/plain; charset=utf-8", "Stopping\n", {}}
                     : HttpResponse{200, "text/plain; charset=utf-8", "Ready\n", {}};
  }
  if (path == "/-/reload") {
    if (auto refused = only({"POST"}, "POST")) {
      return *refused;
    }
    notifier_.reloading();
    const std::string errors = reload();
    notifier_.ready(std::to_string(by_name_.size()) + " probes" +
                    (errors.empty() ? "" : ", last reload rejected"));
    if (!errors.empty()) {
      return {500, "text/plain; charset=utf-8", "failed to reload config:\n" + errors + "\n", {}};
    }
    return {200, "text/plain; charset=utf-8", "config reloaded\n", {}};
  }
  if (path.rfind("/api/v1/", 0) == 0) {
    return console_->handleApi(request, Actor{request.user, "http", request.remote});
  }
  // The console's pages: `/`, `/probes/{name}`, the form posts under `/actions/`, the CSS.
  if (auto page = pages_->handle(request)) {
    return *page;
  }
  return {404, "text/plain; charset=utf-8", "not found\n", {}};
}

}  // namespace vigie
