// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alert/maintenance.h"
#include "forward/forward_config.h"
#include "state/probe_spec.h"
#include "vigie/probe.h"

namespace vigie {

struct WebConfig;

/// The `agent:` section.
struct AgentSettings {
  std::string name;  ///< defaults to the host name
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 9465;
  /// agent.socket: the local Unix socket vigiectl talks to (mode 0660); empty: none.
  std::string socket = "/run/vigie/vigie.sock";
  /// Set in the file: then failing to listen on it stops the start (the default only warns).
  bool socket_configured = false;
  std::string state_dir = "/var/lib/vigie";
  std::int64_t max_concurrent_probes = 1000;
  std::string log_level = "info";
  /// agent.plugin_dirs, resolved: folders whose *.so probe plugins are loaded (plugins/).
  std::vector<std::string> plugin_dirs;
  /// agent.web_config_file, resolved; empty: plain HTTP without authentication.
  std::string web_config_file;
  /// Its TLS and basic auth settings, loaded with the rest of the configuration.
  std::shared_ptr<const WebConfig> web;
  /// agent.timezone: the zone of every human time in alerts (machine fields stay UTC).
  std::string timezone = "Europe/Paris";
  const date::time_zone* zone = nullptr;
  /// agent.unreachable_when: children are unreachable while a parent has any problem
  /// (parent_failing) or only a HARD one (parent_hard).
  bool unreachable_when_hard = false;
};

/// The whole configuration, assembled by config/loader from its sections.
struct AgentConfig {
  std::string source_file;
  AgentSettings agent;
  std::chrono::milliseconds default_interval{30'000};
  std::chrono::milliseconds default_timeout{10'000};
  std::vector<ProbeSpec> probes;
  std::vector<MaintenanceWindow> maintenance;
  ForwardingConfig forwarding;
  /// Not errors, but likely mistakes (a label `env` where events read `environment`).
  std::vector<ConfigIssue> warnings;
};

}  // namespace vigie
