// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace vigie {

struct ProcessRequest {
  /// argv[0] is the program: a path, or a bare name looked up in the child's PATH. No shell.
  std::vector<std::string> argv;
  /// The child's whole environment: the agent's own environment is not inherited, so secrets
  /// the agent expands from it never leak to plugins that were not given them.
  std::vector<std::pair<std::string, std::string>> env;
  /// Bytes of stdout kept; the rest is read and dropped so the child never blocks on a full pipe.
  std::size_t max_output = 64 * 1024;
  std::size_t max_error_output = 4 * 1024;
  /// SIGTERM goes to the child's process group at this time; SIGKILL follows `kill_grace` later
  /// (or at once when the run is cancelled).
  std::chrono::steady_clock::time_point terminate_at = std::chrono::steady_clock::time_point::max();
  std::chrono::milliseconds kill_grace{1000};
};

struct ProcessOutcome {
  enum class End { Exited, Signaled, SpawnFailed };
  End end = End::SpawnFailed;
  int exit_code = -1;   ///< End::Exited
  int signal = 0;       ///< End::Signaled
  int spawn_errno = 0;  ///< End::SpawnFailed
  std::string output;
  std::string error_output;
  bool output_truncated = false;
  /// The child was still running at terminate_at and was sent SIGTERM (and maybe SIGKILL).
  bool terminated = false;
  bool killed = false;
};

/// Runs a child process on the calling coroutine's executor without blocking it: stdout and
/// stderr through pipes, the exit through a pidfd. Waits for a slot first when
/// kMaxConcurrentProcesses children are already running. When the coroutine is cancelled the
/// child's process group is killed and reaped in the background, and the call returns at once.
asio::awaitable<ProcessOutcome> runProcess(const ProcessRequest& request);

/// Children running at once across the agent; further runs wait for a slot.
inline constexpr std::size_t kMaxConcurrentProcesses = 64;

/// Children currently running (slots taken), for tests and self-metrics.
std::size_t runningProcesses();

}  // namespace vigie
