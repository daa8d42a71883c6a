// SPDX-License-Identifier: Apache-2.0
#include "net/curl_multi.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <filesystem>
#include <memory>
#include <thread>

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

int openDescriptors() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

struct SocketFlags {
  int checked = 0;
  int non_blocking = 0;
  int close_on_exec = 0;
};

// Called by curl right after it opened the socket: what the socket was created with.
int recordFlags(void* flags_ptr, curl_socket_t socket, curlsocktype) {
  auto* flags = static_cast<SocketFlags*>(flags_ptr);
  ++flags->checked;
  flags->non_blocking += (fcntl(socket, F_GETFL) & O_NONBLOCK) != 0 ? 1 : 0;
  flags->close_on_exec += (fcntl(socket, F_GETFD) & FD_CLOEXEC) != 0 ? 1 : 0;
  return CURL_SOCKOPT_OK;
}

TEST(CurlMulti, SocketsAreCloseOnExecAndAllClosedAndTheLoopGoesIdle) {
  test::TestTcpServer server({.greeting = kResponse});
  asio::io_context io;
  CurlMulti::of(io.get_executor());  // its own descriptors are not the transfers'
  const int before = openDescriptors();
  constexpr int kTransfers = 50;
  int ok = 0;
  SocketFlags flags;
  for (int i = 0; i < kTransfers; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          std::string body;
          EasyPtr easy = makeEasy(server.port(), body);
          curl_easy_setopt(easy.get(), CURLOPT_FORBID_REUSE, 1L);
          curl_easy_setopt(easy.get(), CURLOPT_SOCKOPTFUNCTION, &recordFlags);
          curl_easy_setopt(easy.get(), CURLOPT_SOCKOPTDATA, &flags);
          const CURLcode code =
              co_await CurlMulti::of(io.get_executor()).perform(easy.get(), asio::use_awaitable);
          if (code == CURLE_OK && body == "hello") {
            ++ok;
          }
        },
        asio::detached);
  }
  const auto started = std::chrono::steady_clock::now();
  io.run_for(20s);
  EXPECT_EQ(ok, kTransfers);
  // run_for returned because nothing was left to wait for, not at its limit.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(flags.checked, kTransfers);
  EXPECT_EQ(flags.close_on_exec, kTransfers);
  // The server (in this process) closes its ends once it sees ours closed.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (openDescriptors() != before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(openDescriptors(), before);
}

TEST(CurlMulti, TransfersInWavesReuseTheSocketSet) {
  // Descriptor numbers come back wave after wave: each new socket must be watched afresh.
  test::TestTcpServer server({.greeting = kResponse});
  asio::io_context io;
  int ok = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int wave = 0; wave < 20; ++wave) {
          std::string body;
          EasyPtr easy = makeEasy(server.port(), body);
          curl_easy_setopt(easy.get(), CURLOPT_FORBID_REUSE, 1L);
          const CURLcode code =
              co_await CurlMulti::of(io.get_executor()).perform(easy.get(), asio::use_awaitable);
          ok += code == CURLE_OK && body == "hello" ? 1 : 0;
        }
      },
      asio::detached);
  io.run_for(20s);
  EXPECT_EQ(ok, 20);
}

}  // namespace
}  // namespace vigie
