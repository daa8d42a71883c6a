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

// Every descendant of a run ends with it. A run's own process group is killed when its leader
// exits or its deadline passes; descendants that leave the group (setsid, setpgid) are caught
// because the agent is a child subreaper (prctl PR_SET_CHILD_SUBREAPER, set in main): when
// their parent dies they become the agent's children instead of init's, and the sweep below
// kills and reaps them. A cgroup per run would also catch them, but needs a delegated cgroup
// tree (systemd Delegate=) that RHEL hosts and containers do not always give; the subreaper
// works everywhere. A descendant that leaves its group while its run is still going is ended
// at that run's end or at the next sweep, whichever comes first.

/// Kills (and reaps when already dead) the agent's children that belong to no run in progress:
/// orphaned plugin descendants, killed leaders. Returns how many it found; killing one can
/// orphan its own children, so callers sweep again until none is found.
std::size_t sweepOrphans();

/// At agent stop: kills every run's group and sweeps until no descendant is left or `patience`
/// has passed. Blocks; call it once the event loop has stopped.
void endPluginDescendants(std::chrono::milliseconds patience = std::chrono::milliseconds(2000));

}  // namespace vigie
