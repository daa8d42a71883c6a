// SPDX-License-Identifier: Apache-2.0
#include "runner/probe_runner.h"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

#include "util/duration.h"
#include "util/no_throw.h"

namespace vigie {
namespace {

using namespace asio::experimental::awaitable_operators;

// The probe's run with every exception turned into UNKNOWN. This must happen inside the race:
// `||` waits for the first *successful* branch, so a throwing probe would otherwise be waited
// for until its deadline.
asio::awaitable<ProbeResult> guarded(Probe& probe, ProbeContext& ctx) {
  try {
    co_return co_await probe.run(ctx);
  } catch (const std::exception& e) {
    co_return ProbeResult::unknown("probe_error", std::string("probe failed: ") + e.what());
  } catch (...) {
    // Not a std::exception: still a faulty probe, still not a reason to stop the agent.
    co_return ProbeResult::unknown("probe_error", "probe failed: unknown exception");
  }
}

}  // namespace

asio::awaitable<RunOutcome> runProbe(Probe& probe, std::string probe_name, Millis timeout) {
  const auto executor = co_await asio::this_coro::executor;
  const auto started = std::chrono::steady_clock::now();
  ProbeContext ctx{executor, started + timeout, std::move(probe_name), ""};
  asio::steady_timer deadline(executor, ctx.deadline);
  // The loser of the race is cancelled and awaited, so no probe outlives its run. The timer's
  // cancellation is a value, not an exception: one throw per run cost more than a TCP probe.
  auto winner = co_await (guarded(probe, ctx) || deadline.async_wait(kNoThrow));
  RunOutcome outcome;
  if (winner.index() == 0) {
    outcome.result = std::move(std::get<0>(winner));
  } else {
    outcome.result =
        ProbeResult::critical("timeout", "timed out after " + formatDuration(timeout) +
                                             (ctx.phase.empty() ? "" : " during " + ctx.phase));
  }
  const auto state = co_await asio::this_coro::cancellation_state;
  outcome.cancelled = state.cancelled() != asio::cancellation_type::none;
  outcome.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  co_return outcome;
}

}  // namespace vigie
