// SPDX-License-Identifier: Apache-2.0
#include "runner/probe_runner.h"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

#include "config/duration.h"

namespace vigie {

using namespace asio::experimental::awaitable_operators;

asio::awaitable<RunOutcome> runProbe(Probe& probe, std::string probe_name, Millis timeout) {
  const auto executor = co_await asio::this_coro::executor;
  const auto started = std::chrono::steady_clock::now();
  ProbeContext ctx{executor, started + timeout, std::move(probe_name), ""};
  RunOutcome outcome;
  try {
    asio::steady_timer deadline(executor, ctx.deadline);
    auto winner = co_await (probe.run(ctx) || deadline.async_wait(asio::use_awaitable));
    if (winner.index() == 0) {
      outcome.result = std::move(std::get<0>(winner));
    } else {
      outcome.result = ProbeResult::critical(
          "timeout", "timed out after " + formatDuration(timeout) +
                         (ctx.phase.empty() ? "" : " during " + ctx.phase));
    }
  } catch (const std::exception& e) {
    outcome.result = ProbeResult::unknown("probe_error", std::string("probe failed: ") + e.what());
  } catch (...) {
    // Not a std::exception: still a faulty probe, still not a reason to stop the agent.
    outcome.result = ProbeResult::unknown("probe_error", "probe failed: unknown exception");
  }
  if (outcome.result.reason == "probe_error") {
    const auto state = co_await asio::this_coro::cancellation_state;
    outcome.cancelled = state.cancelled() != asio::cancellation_type::none;
  }
  outcome.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  co_return outcome;
}

}  // namespace vigie
