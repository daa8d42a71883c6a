// SPDX-License-Identifier: Apache-2.0
#include "process/process.h"

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
#include <list>
#include <memory>

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
      : pid(child_pid), pidfd(executor, child_pidfd), slot(std::move(child_slot)) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!reaped) {
      // Only reached when the loop is torn down with a child still running.
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, WNOHANG);
    }
  }

  void signalGroup(int signal) const {
    if (!reaped) {
      ::kill(-pid, signal);
    }
  }

  bool tryReap() {
    if (!reaped && ::waitpid(pid, &wait_status, WNOHANG) == pid) {
      reaped = true;
    }
    return reaped;
  }
};

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

// Owns a child killed at cancellation until the kernel lets us reap it.
asio::awaitable<void> reapInBackground(std::unique_ptr<Child> child) { co_await waitExit(*child); }

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
             waitExit(*child)) ||
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
