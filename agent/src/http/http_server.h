// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <functional>
#include <string>

namespace vigie {

struct HttpRequest {
  std::string method;
  std::string target;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

/// A small HTTP/1.1 server on the agent's event loop for /metrics and the /-/ endpoints. Each
/// connection serves one request and closes; requests are bounded in size and time so a slow
/// or hostile client cannot hold the agent.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  /// Binds at once; throws std::system_error when the address cannot be bound.
  HttpServer(asio::io_context& io, const std::string& host, std::uint16_t port, Handler handler);

  /// The bound port (useful when 0 was asked for).
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void start();
  void stop();

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> serve(asio::ip::tcp::socket socket);

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
};

}  // namespace vigie
