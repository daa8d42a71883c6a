// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace vigie::test {

/// A TCP (optionally TLS) server on loopback with an ephemeral port, on its own thread.
/// Each connection gets `greeting`, then is echoed (when `echo`) or held open until the client
/// leaves; `close_after_greeting` closes it right after the greeting.
class TestTcpServer {
 public:
  struct Options {
    std::string bind_address = "127.0.0.1";
    std::string greeting{};
    bool echo = false;
    bool close_after_greeting = false;
    std::string tls_cert_file{};  ///< TLS when set
    std::string tls_key_file{};
  };

  explicit TestTcpServer(Options options);
  ~TestTcpServer();
  TestTcpServer(const TestTcpServer&) = delete;
  TestTcpServer& operator=(const TestTcpServer&) = delete;

  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  Options options_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<asio::ssl::context> tls_;
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

/// A loopback port with nothing listening on it.
std::uint16_t closedPort();

}  // namespace vigie::test
