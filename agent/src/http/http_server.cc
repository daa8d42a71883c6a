// SPDX-License-Identifier: Apache-2.0
#include "http/http_server.h"

#include <openssl/evp.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <charconv>
#include <chrono>

#include "util/log.h"
#include "util/no_throw.h"

namespace vigie {
namespace {

using namespace asio::experimental::awaitable_operators;
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(10);
// close_notify exchange after the response; a peer that never answers is simply dropped.
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(2);
// bcrypt checks queued for the helper thread; beyond this, guessing clients get 503 at once.
constexpr std::size_t kMaxChecksInFlight = 8;
// Remembered successful logins (a scraper sends the same credentials every time).
constexpr std::size_t kMaxVerified = 256;

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
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
    const std::string name = lower(header.substr(0, colon));
    if (name == "authorization") {
      request.authorization = header.substr(colon + 1);
      request.authorization.erase(0, request.authorization.find_first_not_of(' '));
    } else if (name == "content-length") {
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

// "Basic base64(user:password)" into user and password; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> basicCredentials(const std::string& header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size() || lower(header.substr(0, kScheme.size())) != kScheme) {
    return std::nullopt;
  }
  const std::string encoded = header.substr(kScheme.size());
  if (encoded.size() % 4 != 0 || encoded.size() > 4096) {
    return std::nullopt;
  }
  std::string decoded(encoded.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                     reinterpret_cast<const unsigned char*>(encoded.data()),
                                     static_cast<int>(encoded.size()));
  if (length < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t size = static_cast<std::size_t>(length);
  for (auto it = encoded.rbegin(); it != encoded.rend() && *it == '='; ++it) {
    --size;
  }
  decoded.resize(size);
  const std::size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  return std::pair{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

// The cache key: a digest, so the cache never holds a password.
std::string credentialDigest(const std::string& user, const std::string& password) {
  std::string input = user;
  input.push_back('\0');
  input.append(password);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr);
  OPENSSL_cleanse(input.data(), input.size());
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const std::string& host, std::uint16_t port,
                       Handler handler, std::shared_ptr<const WebConfig> web)
    : io_(io),
      acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address(host), port)),
      handler_(std::move(handler)),
      web_(std::move(web)) {}

void HttpServer::setWebConfig(std::shared_ptr<const WebConfig> web) { web_ = std::move(web); }

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
  // The configuration a connection starts with is the one it keeps, even across a reload.
  std::shared_ptr<const WebConfig> web = web_;
  if (!web || !web->tls) {
    co_await serveStream(socket, web);
    asio::error_code ignored;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    co_return;
  }
  asio::ssl::stream<asio::ip::tcp::socket> stream(std::move(socket), *web->tls);
  asio::steady_timer timer(stream.get_executor(), kRequestTimeout);
  auto handshake = co_await (stream.async_handshake(asio::ssl::stream_base::server, kNoThrow) ||
                             timer.async_wait(kNoThrow));
  if (handshake.index() == 1) {
    co_return;
  }
  if (const auto [ec] = std::get<0>(handshake); ec) {
    logDebug("http: TLS handshake failed: " + ec.message());
    co_return;
  }
  co_await serveStream(stream, web);
  timer.expires_after(kTlsShutdownTimeout);
  co_await (stream.async_shutdown(kNoThrow) || timer.async_wait(kNoThrow));
}

asio::awaitable<std::optional<HttpResponse>> HttpServer::authenticate(
    const HttpRequest& request, const std::shared_ptr<const WebConfig>& web) {
  if (!web || web->basic_auth_users.empty()) {
    co_return std::nullopt;
  }
  const HttpResponse unauthorized{401, "text/plain; charset=utf-8", "Unauthorized\n"};
  auto credentials = basicCredentials(request.authorization);
  if (!credentials) {
    co_return unauthorized;
  }
  auto& [user, password] = *credentials;
  const std::string key = credentialDigest(user, password);
  const auto known = web->basic_auth_users.find(user);
  if (known != web->basic_auth_users.end()) {
    const auto cached = verified_.find(key);
    if (cached != verified_.end() && cached->second == known->second) {
      co_return std::nullopt;
    }
  }
  if (checks_in_flight_ >= kMaxChecksInFlight) {
    co_return HttpResponse{503, "text/plain; charset=utf-8", "authentication busy, retry\n"};
  }
  ++checks_in_flight_;
  const bool valid = co_await checkPasswordOffLoop(web, user, std::move(password));
  --checks_in_flight_;
  if (!valid) {
    logDebug("http: authentication failed for user '" + user + "'");
    co_return unauthorized;
  }
  if (verified_.size() >= kMaxVerified) {
    verified_.clear();
  }
  verified_[key] = known->second;
  co_return std::nullopt;
}

asio::awaitable<bool> HttpServer::checkPasswordOffLoop(std::shared_ptr<const WebConfig> web,
                                                       std::string user, std::string password) {
  auto start = [this, web = std::move(web), user = std::move(user),
                password = std::move(password)](auto handler) mutable {
    asio::post(bcrypt_pool_, [web = std::move(web), user = std::move(user),
                              password = std::move(password), handler = std::move(handler),
                              work = asio::make_work_guard(io_)]() mutable {
      const bool valid = web->checkPassword(user, password);
      OPENSSL_cleanse(password.data(), password.size());
      // Back on the loop: the coroutine resumes where it runs.
      asio::post(work.get_executor(),
                 [handler = std::move(handler), valid]() mutable { std::move(handler)(valid); });
    });
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
      std::move(start), asio::use_awaitable);
}

template <typename Stream>
asio::awaitable<void> HttpServer::serveStream(Stream& socket,
                                              std::shared_ptr<const WebConfig> web) {
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
      auto [body_ec, n] =
          co_await asio::async_read(socket, asio::dynamic_buffer(request.body, content_length),
                                    asio::transfer_exactly(missing), kNoThrow);
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
    response =
        HttpResponse{status, "text/plain; charset=utf-8", std::string(reasonPhrase(status)) + "\n"};
  } else if (auto refused = co_await authenticate(request, web)) {
    response = std::move(*refused);
  } else {
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      logError("http: handler for " + request.target + " failed: " + e.what());
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"};
    }
  }
  std::string head =
      "HTTP/1.1 " + std::to_string(response.status) + " " +
      std::string(reasonPhrase(response.status)) + "\r\nContent-Type: " + response.content_type +
      "\r\nContent-Length: " + std::to_string(response.body.size()) + "\r\nConnection: close\r\n";
  if (response.status == 401) {
    head.append("WWW-Authenticate: Basic realm=\"vigie-agent\"\r\n");
  }
  head.append("\r\n");
  // Head and body go out as two buffers: /metrics bodies run to megabytes, not worth a copy.
  const std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(response.body)};
  timer.expires_after(kRequestTimeout);
  co_await (asio::async_write(socket, out, kNoThrow) || timer.async_wait(kNoThrow));
}

}  // namespace vigie
