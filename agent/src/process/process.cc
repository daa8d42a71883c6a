// SPDX-License-Identifier: Apache-2.0
#include "process/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <fstream>
#include <list>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "util/no_throw.h"

namespace vigie {
namespace {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

// Slots for running children. Lives on the loop's thread like everything else in the agent.
class ProcessSlots {
 public:
  /// False when the waiting coroutine was cancelled before a slot freed up.
  asio::awaitable<bool> acquire() {
    while (running_ >= kMaxConcurrentProcesses) {
      Waiter waiter{
          asio::steady_timer(co_await asio::this_coro::executor, Clock::time_point::max())};
      const auto place = waiters_.insert(waiters_.end(), &waiter);
      co_await waiter.timer.async_wait(kNoThrow);
      const auto state = co_await asio::this_coro::cancellation_state;
      if (!waiter.woken) {
        waiters_.erase(place);
        co_return false;
      }
      if (state.cancelled() != asio::cancellation_type::none) {
        wakeOne();  // the wake-up was meant for a run that still wants a slot
        co_return false;
      }
    }
    ++running_;
    co_return true;
  }

  void release() {
    --running_;
    wakeOne();
  }

  std::size_t running() const { return running_; }

 private:
  struct Waiter {
    asio::steady_timer timer;
    bool woken = false;
  };

  void wakeOne() {
    if (waiters_.empty()) {
      return;
    }
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->woken = true;
    next->timer.cancel();
  }

  std::size_t running_ = 0;
  std::list<Waiter*> waiters_;
};

ProcessSlots& slots() {
  static ProcessSlots instance;
  return instance;
}

// Process groups of the runs in progress (a leader's pid is its group's id). The orphan sweep
// leaves their members alone: each run's own deadline ends them.
std::set<pid_t>& activeGroups() {
  static std::set<pid_t> groups;
  return groups;
}

class Slot {
 public:
  Slot() = default;
  static Slot taken() {
    Slot slot;
    slot.held_ = true;
    return slot;
  }
  Slot(Slot&& other) noexcept : held_(std::exchange(other.held_, false)) {}
  Slot& operator=(Slot&&) = delete;
  ~Slot() {
    if (held_) {
      slots().release();
    }
  }

 private:
  bool held_ = false;
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_;
};

// A spawned child until it is reaped; the process group is the child's pid.
struct Child {
  pid_t pid = 0;
  bool reaped = false;
  int wait_status = 0;
  asio::posix::stream_descriptor pidfd;
  Slot slot;

  Child(asio::any_io_executor executor, pid_t child_pid, int child_pidfd, Slot child_slot)
      : pid(child_pid), pidfd(executor, child_pidfd), slot(std::move(child_slot)) {
    activeGroups().insert(pid);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    activeGroups().erase(pid);
    if (!reaped) {
      // Only reached when the loop is torn down with a child still running; the final sweep
      // (endPluginDescendants) reaps it.
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, WNOHANG);
    }
  }

  // The leader's pid is the group's id, reserved until the leader is reaped.
  void signalGroup(int signal) const {
    if (!reaped) {
      ::kill(-pid, signal);
    }
  }

  /// When the leader has exited, kills what is left of its group, then reaps the leader.
  bool tryReap() {
    siginfo_t info{};
    if (reaped ||
        ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        info.si_pid != pid) {
      return reaped;
    }
    // Still a zombie, so the group's id cannot be reused yet: the run ends with its leader.
    ::kill(-pid, SIGKILL);
    reaped = ::waitpid(pid, &wait_status, WNOHANG) == pid;
    return reaped;
  }
};

pid_t ownProcessGroup() {
  static const pid_t group = ::getpgrp();
  return group;
}

// The agent's children: /proc/self/task/*/children (an orphan is adopted by any thread).
std::vector<pid_t> childrenOfAgent() {
  std::vector<pid_t> children;
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) {
    return children;
  }
  while (const dirent* task = ::readdir(tasks)) {
    if (task->d_name[0] == '.') {
      continue;
    }
    std::ifstream file(std::string("/proc/self/task/") + task->d_name + "/children");
    pid_t pid = 0;
    while (file >> pid) {
      children.push_back(pid);
    }
  }
  ::closedir(tasks);
  return children;
}

// The process group of `pid` from /proc/PID/stat ("pid (comm) state ppid pgrp ..."), 0 if gone.
pid_t processGroupOf(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const std::size_t comm_end = stat.rfind(')');
  if (comm_end == std::string::npos) {
    return 0;
  }
  std::istringstream fields(stat.substr(comm_end + 1));
  char state = 0;
  pid_t parent = 0;
  pid_t group = 0;
  fields >> state >> parent >> group;
  return group;
}

// A cancellation that lands while an operation's completion is already queued reaches no
// operation; each loop checks for it before starting the next one, or it would wait forever.
asio::awaitable<bool> cancelled() {
  const auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

asio::awaitable<void> drain(asio::posix::stream_descriptor& pipe, std::string& kept,
                            std::size_t limit, bool* truncated) {
  co_await asio::this_coro::throw_if_cancelled(false);
  char chunk[16 * 1024];
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(chunk), kNoThrow);
    const std::size_t room = limit - std::min(limit, kept.size());
    kept.append(chunk, std::min(n, room));
    if (n > room && truncated != nullptr) {
      *truncated = true;
    }
    if (ec || co_await cancelled()) {
      co_return;  // end of file, or cancelled
    }
  }
}

asio::awaitable<void> waitExit(Child& child) {
  co_await asio::this_coro::throw_if_cancelled(false);
  while (!child.tryReap()) {
    auto [ec] = co_await child.pidfd.async_wait(asio::posix::descriptor_base::wait_read, kNoThrow);
    if (ec || (co_await cancelled() && !child.tryReap())) {
      co_return;
    }
  }
}

// A run ends when its leader exits: the rest of its group is killed, and the descendants that
// left the group (setsid, or reparented to the agent when their parent died) are swept, so a
// child holding stdout cannot keep the run, or itself, alive.
asio::awaitable<void> waitExitAndEndDescendants(Child& child) {
  co_await waitExit(child);
  if (!child.reaped) {
    co_return;  // cancelled: the caller kills the group
  }
  activeGroups().erase(child.pid);
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (int round = 0; round < 200 && sweepOrphans() > 0; ++round) {
    pause.expires_after(std::chrono::milliseconds(10));
    if (auto [ec] = co_await pause.async_wait(kNoThrow); ec || co_await cancelled()) {
      co_return;
    }
  }
}

asio::awaitable<void> watchdog(Child& child, const ProcessRequest& request,
                               ProcessOutcome& outcome) {
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer timer(co_await asio::this_coro::executor, request.terminate_at);
  if (auto [ec] = co_await timer.async_wait(kNoThrow); ec || co_await cancelled()) {
    co_return;
  }
  child.signalGroup(SIGTERM);
  outcome.terminated = true;
  timer.expires_after(request.kill_grace);
  if (auto [ec] = co_await timer.async_wait(kNoThrow); ec || co_await cancelled()) {
    co_return;
  }
  child.signalGroup(SIGKILL);
  outcome.killed = true;
  // Stay in the race until the child is reaped; the other branch wins it.
  timer.expires_at(Clock::time_point::max());
  co_await timer.async_wait(kNoThrow);
}

// Owns a child killed at cancellation until the kernel lets us reap it, then sweeps what it left.
asio::awaitable<void> reapInBackground(std::unique_ptr<Child> child) {
  co_await waitExitAndEndDescendants(*child);
}

struct SpawnResult {
  pid_t pid = 0;
  int error = 0;
  Fd out;
  Fd err;
};

SpawnResult spawn(const ProcessRequest& request) {
  SpawnResult result;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.error = errno;
    return result;
  }
  result.out.reset(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.error = errno;
    return result;
  }
  result.err.reset(err_pipe[0]);
  Fd err_write(err_pipe[1]);

  std::vector<char*> argv;
  for (const std::string& arg : request.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_entries;
  for (const auto& [name, value] : request.env) {
    env_entries.push_back(name);
    env_entries.back().append("=").append(value);
  }
  std::vector<char*> envp;
  for (std::string& entry : env_entries) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  // Descriptors the agent opened without O_CLOEXEC (sockets...) must not reach plugins.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attributes, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attributes, &signals);
  // Its own process group, so a timeout kills the plugin's children too.
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  result.error =
      ::posix_spawnp(&result.pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  return result;
}

}  // namespace

std::size_t runningProcesses() { return slots().running(); }

std::size_t sweepOrphans() {
  std::size_t found = 0;
  for (const pid_t pid : childrenOfAgent()) {
    const pid_t group = processGroupOf(pid);
    // Leaders of runs in progress and their groups are theirs to end; the agent's own group
    // holds anything the agent itself started outside runProcess.
    if (group == 0 || group == ownProcessGroup() || activeGroups().count(group) != 0) {
      continue;
    }
    ++found;
    // Our unreaped child: its pid, and so its group's id, cannot be reused meanwhile.
    ::kill(-group, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, WNOHANG);
  }
  return found;
}

void endPluginDescendants(std::chrono::milliseconds patience) {
  for (const pid_t group : activeGroups()) {
    ::kill(-group, SIGKILL);
  }
  activeGroups().clear();
  const auto deadline = Clock::now() + patience;
  while (sweepOrphans() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

asio::awaitable<ProcessOutcome> runProcess(const ProcessRequest& request) {
  // Cancellation is handled here explicitly: the child must be killed, not left behind.
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto executor = co_await asio::this_coro::executor;
  ProcessOutcome outcome;
  if (request.argv.empty()) {
    outcome.spawn_errno = EINVAL;
    co_return outcome;
  }
  if (!co_await slots().acquire()) {
    outcome.spawn_errno = ECANCELED;
    co_return outcome;
  }
  Slot slot = Slot::taken();
  SpawnResult spawned = spawn(request);
  if (spawned.error != 0) {
    outcome.spawn_errno = spawned.error;
    co_return outcome;
  }
  // glibc 2.36 declares pidfd_open without C linkage for C++; the system call is the same.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, spawned.pid, 0));
  if (pidfd < 0) {
    outcome.spawn_errno = errno;
    ::kill(-spawned.pid, SIGKILL);
    ::waitpid(spawned.pid, nullptr, 0);  // just killed: returns at once
    co_return outcome;
  }
  auto child = std::make_unique<Child>(executor, spawned.pid, pidfd, std::move(slot));
  asio::posix::stream_descriptor out(executor, spawned.out.release());
  asio::posix::stream_descriptor err(executor, spawned.err.release());

  co_await ((drain(out, outcome.output, request.max_output, &outcome.output_truncated) &&
             drain(err, outcome.error_output, request.max_error_output, nullptr) &&
             waitExitAndEndDescendants(*child)) ||
            watchdog(*child, request, outcome));

  if (!child->reaped) {
    // Cancelled (deadline, reload, shutdown): the result is not wanted any more.
    child->signalGroup(SIGKILL);
    asio::co_spawn(executor, reapInBackground(std::move(child)), asio::detached);
    outcome.killed = true;
    outcome.end = ProcessOutcome::End::Signaled;
    outcome.signal = SIGKILL;
    co_return outcome;
  }
  if (WIFEXITED(child->wait_status)) {
    outcome.end = ProcessOutcome::End::Exited;
    outcome.exit_code = WEXITSTATUS(child->wait_status);
  } else {
    outcome.end = ProcessOutcome::End::Signaled;
    outcome.signal = WTERMSIG(child->wait_status);
  }
  co_return outcome;
}

}  // namespace vigie
