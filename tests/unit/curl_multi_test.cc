// SPDX-License-Identifier: Apache-2.0
#include "net/curl_multi.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <memory>

#include "test_server.h"

namespace vigie {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;

size_t appendBody(char* data, size_t size, size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

EasyPtr makeEasy(std::uint16_t port, std::string& body) {
  EasyPtr easy(curl_easy_init());
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L);
  return easy;
}

const char* kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

TEST(CurlMulti, ManyTransfersInFlightOnOneThread) {
  test::TestTcpServer server({.greeting = kResponse});
  asio::io_context io;
  constexpr int kTransfers = 200;
  int ok = 0;
  for (int i = 0; i < kTransfers; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          std::string body;
          EasyPtr easy = makeEasy(server.port(), body);
          const CURLcode code =
              co_await CurlMulti::of(io.get_executor()).perform(easy.get(), asio::use_awaitable);
          if (code == CURLE_OK && body == "hello") {
            ++ok;
          }
        },
        asio::detached);
  }
  io.run_for(20s);
  EXPECT_EQ(ok, kTransfers);
  EXPECT_EQ(CurlMulti::of(io.get_executor()).inFlight(), 0u);
}

TEST(CurlMulti, RefusedConnectionCompletesWithItsError) {
  asio::io_context io;
  CURLcode code = CURLE_OK;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::string body;
        EasyPtr easy = makeEasy(test::closedPort(), body);
        code = co_await CurlMulti::of(io.get_executor()).perform(easy.get(), asio::use_awaitable);
      },
      asio::detached);
  io.run_for(10s);
  EXPECT_EQ(code, CURLE_COULDNT_CONNECT);
}

TEST(CurlMulti, CancellationRemovesTheTransferAtOnce) {
  test::TestTcpServer silent({});
  asio::io_context io;
  std::optional<std::size_t> winner;
  const auto started = std::chrono::steady_clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::string body;
        EasyPtr easy = makeEasy(silent.port(), body);
        asio::steady_timer deadline(io, 100ms);
        auto result =
            co_await (CurlMulti::of(io.get_executor()).perform(easy.get(), asio::use_awaitable) ||
                      deadline.async_wait(asio::use_awaitable));
        winner = result.index();
      },
      asio::detached);
  io.run_for(10s);
  ASSERT_TRUE(winner);
  EXPECT_EQ(*winner, 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(CurlMulti::of(io.get_executor()).inFlight(), 0u);
}

}  // namespace
}  // namespace vigie
