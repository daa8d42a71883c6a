// SPDX-License-Identifier: Apache-2.0
// Every descendant of a process run ends with the run: children left holding stdout, children
// in a new session, and whatever a cancelled run leaves behind.
#include "process/process.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace vigie {
namespace {

using Clock = std::chrono::steady_clock;

class ProcessDescendants : public ::testing::Test {
 protected:
  // As the agent's main() does.
  void SetUp() override { ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
};

ProcessOutcome run(ProcessRequest request) {
  asio::io_context io;
  ProcessOutcome outcome;
  asio::co_spawn(io, runProcess(request), [&](std::exception_ptr error, ProcessOutcome result) {
    if (error) {
      std::rethrow_exception(error);
    }
    outcome = std::move(result);
  });
  io.run();
  return outcome;
}

std::vector<pid_t> pidsIn(const std::string& output) {
  std::istringstream lines(output);
  std::vector<pid_t> pids;
  pid_t pid = 0;
  while (lines >> pid) {
    pids.push_back(pid);
  }
  return pids;
}

// Gone means reaped: no zombie is left behind either.
bool gone(pid_t pid) { return !std::filesystem::exists("/proc/" + std::to_string(pid)); }

std::string pidFile(const std::string& name) {
  const std::string file = ::testing::TempDir() + "vigie-process-test-" + name;
  std::filesystem::remove(file);
  return file;
}

std::vector<pid_t> readPids(const std::string& file) {
  std::ifstream written(file);
  std::stringstream text;
  text << written.rdbuf();
  return pidsIn(text.str());
}

// Three children that outlive the shell, each adding its pid to `file`: one in the shell's
// group, one in a new session, and one in a new session that starts another one. All hold the
// shell's stdout.
std::string leaveChildren(const std::string& file) {
  const std::string add = "echo $$ >> " + file;
  return "sh -c '" + add + "; exec sleep 300' & setsid sh -c '" + add +
         "; exec sleep 300' & setsid sh -c '" + add + "; setsid sh -c \"echo \\$\\$ >> " + file +
         "; exec sleep 300\" & exec sleep 300' & while [ $(cat " + file +
         " 2>/dev/null | wc -l) -lt 4 ]; do sleep 0.01; done; ";
}

TEST_F(ProcessDescendants, EndWhenTheLeaderExits) {
  const std::string file = pidFile("leader-exits");
  const auto started = Clock::now();
  const ProcessOutcome outcome =
      run({{"/bin/sh", "-c", leaveChildren(file) + "echo done; exit 0"}, {}});
  // The children held stdout open; the run still ended with the leader, not at a deadline.
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(3));
  EXPECT_EQ(outcome.end, ProcessOutcome::End::Exited);
  EXPECT_EQ(outcome.output, "done\n");
  const std::vector<pid_t> pids = readPids(file);
  ASSERT_EQ(pids.size(), 4u);
  for (const pid_t pid : pids) {
    EXPECT_TRUE(gone(pid)) << pid;
  }
}

TEST_F(ProcessDescendants, EndAtTheDeadline) {
  const std::string file = pidFile("deadline");
  ProcessRequest request{{"/bin/sh", "-c", leaveChildren(file) + "exec sleep 300"}, {}};
  request.terminate_at = Clock::now() + std::chrono::milliseconds(1500);
  request.kill_grace = std::chrono::milliseconds(100);
  const ProcessOutcome outcome = run(request);
  EXPECT_TRUE(outcome.terminated);
  const std::vector<pid_t> pids = readPids(file);
  ASSERT_EQ(pids.size(), 4u);
  for (const pid_t pid : pids) {
    EXPECT_TRUE(gone(pid)) << pid;
  }
}

TEST_F(ProcessDescendants, EndWhenTheRunIsCancelled) {
  // The pids go to a file: a cancelled run returns no output.
  const std::string file = pidFile("cancelled");
  asio::io_context io;
  asio::cancellation_signal cancel;
  ProcessRequest request{
      {"/bin/sh", "-c",
       "setsid sh -c 'echo $$ >> " + file + "; exec sleep 300' & sh -c 'echo $$ >> " + file +
           "; exec sleep 300' & exec sleep 300"},
      {}};
  asio::co_spawn(
      io, runProcess(request),
      asio::bind_cancellation_slot(cancel.slot(), [](std::exception_ptr, ProcessOutcome) {}));
  asio::steady_timer timer(io, std::chrono::milliseconds(500));
  timer.async_wait(
      [&](const asio::error_code&) { cancel.emit(asio::cancellation_type::terminal); });
  io.run();
  const std::vector<pid_t> pids = readPids(file);
  ASSERT_EQ(pids.size(), 2u);
  // What the background reaping has not finished when the loop stops, the final sweep does.
  endPluginDescendants();
  for (const pid_t pid : pids) {
    EXPECT_TRUE(gone(pid)) << pid;
  }
  EXPECT_EQ(runningProcesses(), 0u);
}

TEST_F(ProcessDescendants, SweepLeavesTheAgentsOwnChildrenAlone) {
  // A child in the agent's own process group is not a plugin's.
  const pid_t own = ::fork();
  if (own == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(own, 0);
  EXPECT_EQ(sweepOrphans(), 0u);
  EXPECT_FALSE(gone(own));
  ::kill(own, SIGKILL);
  ::waitpid(own, nullptr, 0);
}

}  // namespace
}  // namespace vigie
