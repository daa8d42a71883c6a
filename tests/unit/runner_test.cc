// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <stdexcept>

#include "runner/probe_runner.h"
#include "util/no_throw.h"

namespace vigie {
namespace {

using namespace std::chrono_literals;

class ThrowingProbe final : public Probe {
 public:
  asio::awaitable<ProbeResult> run(ProbeContext&) override {
    throw std::runtime_error("plugin exploded");
    co_return ProbeResult::ok("unreachable");
  }
};

class ThrowingNonStdProbe final : public Probe {
 public:
  asio::awaitable<ProbeResult> run(ProbeContext&) override {
    throw 42;
    co_return ProbeResult::ok("unreachable");
  }
};

// Waits far longer than any timeout in these tests; records whether it was cancelled.
class SlowProbe final : public Probe {
 public:
  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    ctx.phase = "waiting";
    asio::steady_timer timer(ctx.executor, 60s);
    try {
      co_await timer.async_wait(asio::use_awaitable);
    } catch (const std::system_error&) {
      cancelled = true;
      throw;
    }
    co_return ProbeResult::ok("slow");
  }
  bool cancelled = false;
};

RunOutcome run(Probe& probe, Millis timeout) {
  asio::io_context io;
  auto future = asio::co_spawn(io, runProbe(probe, "p", timeout), asio::use_future);
  io.run();
  return future.get();
}

TEST(Runner, ExceptionBecomesUnknownNotACrash) {
  ThrowingProbe probe;
  const RunOutcome outcome = run(probe, 1s);
  EXPECT_EQ(outcome.result.status, Status::Unknown);
  EXPECT_EQ(outcome.result.reason, "probe_error");
  EXPECT_NE(outcome.result.message.find("plugin exploded"), std::string::npos);
  EXPECT_FALSE(outcome.cancelled);
}

TEST(Runner, NonStandardExceptionBecomesUnknown) {
  ThrowingNonStdProbe probe;
  const RunOutcome outcome = run(probe, 1s);
  EXPECT_EQ(outcome.result.status, Status::Unknown);
  EXPECT_EQ(outcome.result.reason, "probe_error");
}

TEST(Runner, TimeoutCancelsTheProbeAndSaysWhere) {
  SlowProbe probe;
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = run(probe, 200ms);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(outcome.result.status, Status::Critical);
  EXPECT_EQ(outcome.result.reason, "timeout");
  EXPECT_EQ(outcome.result.message, "timed out after 200ms during waiting");
  EXPECT_TRUE(probe.cancelled);  // cancelled, not left running in the background
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
  EXPECT_GE(outcome.duration_seconds, 0.2);
}

TEST(Runner, ShutdownCancellationIsReportedAsCancelled) {
  SlowProbe probe;
  asio::io_context io;
  asio::cancellation_signal signal;
  std::optional<RunOutcome> outcome;
  asio::co_spawn(io, runProbe(probe, "p", 10s),
                 asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr, RunOutcome o) {
                   outcome = std::move(o);
                 }));
  asio::steady_timer stop(io, 50ms);
  stop.async_wait([&](auto) { signal.emit(asio::cancellation_type::terminal); });
  io.run();
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->cancelled);
  EXPECT_TRUE(probe.cancelled);
}

}  // namespace
}  // namespace vigie

namespace vigie {
namespace {

// Busy in steps that cannot be cancelled (posted work, like a completion already queued) when
// the deadline strikes, then starts a long wait. The deadline's cancellation reached no pending
// operation; the coroutine's cancelled state must still stop the wait it starts afterwards.
class ResumesAfterDeadlineProbe final : public Probe {
 public:
  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    while (std::chrono::steady_clock::now() < ctx.deadline + 5ms) {
      co_await asio::post(ctx.executor, asio::use_awaitable);
    }
    ctx.phase = "second wait";
    asio::steady_timer second(ctx.executor, 60s);
    co_await second.async_wait(kNoThrow);
    co_return ProbeResult::ok("late");
  }
};

TEST(Runner, ADeadlineThatFindsNoPendingOperationStillStopsTheProbe) {
  ResumesAfterDeadlineProbe probe;
  const auto started = std::chrono::steady_clock::now();
  const RunOutcome outcome = run(probe, 50ms);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(outcome.result.reason, "timeout");
}

}  // namespace
}  // namespace vigie
