// SPDX-License-Identifier: Apache-2.0
#include "http/http_server.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <charconv>
#include <chrono>

#include "util/log.h"

namespace vigie {
namespace {

using namespace asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(10);

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

// Parses the request head; returns the status to answer with on malformed input.
int parseHead(const std::string& head, HttpRequest& request, std::size_t& content_length) {
  const std::size_t line_end = head.find("\r\n");
  const std::string line = head.substr(0, line_end);
  const std::size_t first = line.find(' ');
  const std::size_t second = line.find(' ', first + 1);
  if (first == std::string::npos || second == std::string::npos) {
    return 400;
  }
  request.method = line.substr(0, first);
  request.target = line.substr(first + 1, second - first - 1);
  content_length = 0;
  std::size_t pos = line_end + 2;
  while (pos < head.size()) {
    const std::size_t end = head.find("\r\n", pos);
    const std::string header = head.substr(pos, end - pos);
    pos = end == std::string::npos ? head.size() : end + 2;
    const std::size_t colon = header.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    if (lower(header.substr(0, colon)) == "content-length") {
      std::string value = header.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      const auto [ptr, ec] =
          std::from_chars(value.data(), value.data() + value.size(), content_length);
      if (ec != std::errc()) {
        return 400;
      }
    }
  }
  return content_length > kMaxBodyBytes ? 413 : 0;
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const std::string& host, std::uint16_t port,
                       Handler handler)
    : io_(io),
      acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address(host), port)),
      handler_(std::move(handler)) {}

void HttpServer::start() { asio::co_spawn(io_, acceptLoop(), asio::detached); }

void HttpServer::stop() {
  asio::error_code ignored;
  acceptor_.close(ignored);
}

asio::awaitable<void> HttpServer::acceptLoop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
      co_return;
    }
    if (ec) {
      // Out of file descriptors and the like: keep serving once it passes.
      logWarning("http: accept failed: " + ec.message());
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::serve(asio::ip::tcp::socket socket) {
  HttpResponse response;
  std::string buffer;
  HttpRequest request;
  auto read_request = [&]() -> asio::awaitable<int> {
    auto [ec, head_size] = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(buffer, kMaxHeaderBytes), "\r\n\r\n", kNoThrow);
    if (ec) {
      co_return ec == asio::error::not_found ? 413 : -1;
    }
    std::size_t content_length = 0;
    if (const int status = parseHead(buffer.substr(0, head_size), request, content_length)) {
      co_return status;
    }
    request.body = buffer.substr(head_size);
    if (request.body.size() < content_length) {
      const std::size_t missing = content_length - request.body.size();
      auto [body_ec, n] = co_await asio::async_read(
          socket, asio::dynamic_buffer(request.body, content_length), asio::transfer_exactly(missing),
          kNoThrow);
      if (body_ec) {
        co_return -1;
      }
    }
    request.body.resize(content_length);
    co_return 0;
  };
  asio::steady_timer timer(socket.get_executor(), kRequestTimeout);
  auto outcome = co_await (read_request() || timer.async_wait(kNoThrow));
  if (outcome.index() == 1) {
    co_return;  // The client was too slow: drop it.
  }
  const int status = std::get<0>(outcome);
  if (status < 0) {
    co_return;
  }
  if (status > 0) {
    response = HttpResponse{status, "text/plain; charset=utf-8",
                            std::string(reasonPhrase(status)) + "\n"};
  } else {
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      logError("http: handler for " + request.target + " failed: " + e.what());
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
  }
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                    std::string(reasonPhrase(response.status)) +
                    "\r\nContent-Type: " + response.content_type +
                    "\r\nContent-Length: " + std::to_string(response.body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  out += response.body;
  timer.expires_after(kRequestTimeout);
  co_await (asio::async_write(socket, asio::buffer(out), kNoThrow) || timer.async_wait(kNoThrow));
  asio::error_code ignored;
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

}  // namespace vigie
