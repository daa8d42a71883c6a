// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "http/web_config.h"

namespace vigie {

struct HttpRequest {
  std::string method;
  std::string target;
  std::string authorization;  ///< the Authorization header, empty when absent
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

/// A small HTTP/1.1 server on the agent's event loop for /metrics and the /-/ endpoints. Each
/// connection serves one request and closes; requests are bounded in size and time so a slow
/// or hostile client cannot hold the agent. TLS and basic authentication come from a
/// WebConfig; bcrypt runs on one helper thread so the loop never waits for it.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  /// Binds at once; throws std::system_error when the address cannot be bound.
  HttpServer(asio::io_context& io, const std::string& host, std::uint16_t port, Handler handler,
             std::shared_ptr<const WebConfig> web = nullptr);

  /// The bound port (useful when 0 was asked for).
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void start();
  void stop();
  /// Applies to the connections accepted from now on; null means plain HTTP, no auth.
  void setWebConfig(std::shared_ptr<const WebConfig> web);

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> serve(asio::ip::tcp::socket socket);
  template <typename Stream>
  asio::awaitable<void> serveStream(Stream& stream, std::shared_ptr<const WebConfig> web);
  /// nullopt when the request may go on; otherwise the response that refuses it.
  asio::awaitable<std::optional<HttpResponse>> authenticate(
      const HttpRequest& request, const std::shared_ptr<const WebConfig>& web);
  asio::awaitable<bool> checkPasswordOffLoop(std::shared_ptr<const WebConfig> web, std::string user,
                                             std::string password);

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  std::shared_ptr<const WebConfig> web_;
  /// Successful checks by digest of user and password, with the hash they matched.
  std::unordered_map<std::string, std::string> verified_;
  std::size_t checks_in_flight_ = 0;
  asio::thread_pool bcrypt_pool_{1};
};

}  // namespace vigie
