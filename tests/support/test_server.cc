// SPDX-License-Identifier: Apache-2.0
#include "test_server.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "util/no_throw.h"

namespace vigie::test {
namespace {

template <typename Stream>
asio::awaitable<void> talk(Stream& stream, const TestTcpServer::Options& options) {
  if (!options.greeting.empty()) {
    co_await asio::async_write(stream, asio::buffer(options.greeting), kNoThrow);
  }
  if (options.close_after_greeting) {
    co_return;
  }
  char buffer[4096];
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer), kNoThrow);
    if (ec) {
      co_return;
    }
    if (options.echo) {
      co_await asio::async_write(stream, asio::buffer(buffer, n), kNoThrow);
    }
  }
}

asio::awaitable<void> serve(asio::ip::tcp::socket socket, const TestTcpServer::Options& options,
                            asio::ssl::context* tls) {
  if (tls == nullptr) {
    co_await talk(socket, options);
    co_return;
  }
  asio::ssl::stream<asio::ip::tcp::socket> stream(std::move(socket), *tls);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
  if (!ec) {
    co_await talk(stream, options);
  }
}

}  // namespace

TestTcpServer::TestTcpServer(Options options)
    : options_(std::move(options)),
      acceptor_(io_, {asio::ip::make_address(options_.bind_address), 0}) {
  port_ = acceptor_.local_endpoint().port();
  if (!options_.tls_cert_file.empty()) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_->use_certificate_chain_file(options_.tls_cert_file);
    tls_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem);
  }
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        for (;;) {
          auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
          if (ec) {
            co_return;
          }
          ++connections_;
          asio::co_spawn(io_, serve(std::move(socket), options_, tls_.get()), asio::detached);
        }
      },
      asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

TestTcpServer::~TestTcpServer() {
  io_.stop();
  thread_.join();
}

std::uint16_t closedPort() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

}  // namespace vigie::test
