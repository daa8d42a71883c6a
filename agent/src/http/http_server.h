// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "http/web_config.h"

namespace vigie {

struct HttpRequest {
  std::string method;
  std::string target;
  std::string authorization;  ///< the Authorization header, empty when absent
  std::string content_type;
  std::string accept_language;
  std::string accept_encoding;
  std::string cookie;
  /// Origin and Sec-Fetch-Site: what tells a cross-site form post from the page's own.
  std::string origin;
  std::string sec_fetch_site;
  std::string body;
  std::string remote;  ///< the client's address, for logs ("local socket" on the socket)
  /// Came over the agent's local Unix socket (agent.socket): user is the peer's Unix user, from
  /// its kernel credentials, and the socket's file mode is the authorisation.
  bool via_socket = false;
  long peer_uid = -1;  ///< the peer's uid on the socket, -1 over TCP
  /// Set by the server once the request is authenticated: who sent it, and whether the web
  /// config's user_roles makes that user an operator (allowed to act, not only to read).
  std::string user;
  bool is_operator = false;
};

struct HttpResponse {
  HttpResponse() = default;
  /// Not an aggregate, so the headers added over time need not be listed in every answer.
  HttpResponse(int status_code, std::string type, std::string text, std::string allow_methods = {})
      : status(status_code),
        content_type(std::move(type)),
        body(std::move(text)),
        allow(std::move(allow_methods)) {}

  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;     ///< the Allow header of a 405
  std::string location;  ///< the Location header of a redirect
};

/// Parses a request head (request line and header lines, up to the blank line). Returns 0 when
/// the request may go on, else the status that refuses it: 400 malformed, 413 body too large,
/// 501 a transfer coding, 505 a version other than HTTP/1.0 and HTTP/1.1. Public for the fuzzer.
int parseRequestHead(std::string_view head, HttpRequest& request, std::size_t& content_length);

/// Whether an Accept-Encoding header value allows gzip (`gzip`, `x-gzip` or `*`, q above 0).
bool acceptsGzip(std::string_view accept_encoding);

/// The gzip member (RFC 1952) of `body` at zlib `level` (1 fastest .. 9 smallest); empty when
/// zlib fails (out of memory).
std::string gzipCompress(std::string_view body, int level);

/// "Basic base64(user:password)" into user and password; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> parseBasicCredentials(std::string_view header);

/// A small HTTP/1.1 server on the agent's event loop for /metrics and the /-/ endpoints. Each
/// connection serves one request and closes; requests are bounded in size and time so a slow
/// or hostile client cannot hold the agent: at most kMaxConnections at once (the oldest one
/// still sending its head makes room for a new one), accepting pauses while the process is out
/// of file descriptors, and clients that keep failing basic authentication are throttled.
/// TLS and basic authentication come from a WebConfig; bcrypt runs on one helper thread so the
/// loop never waits for it. The same requests may also come over a local Unix socket
/// (listenLocal): no TLS nor basic auth there, the peer's credentials name the user. Large
/// bodies go out gzip-compressed to clients that accept it; big ones are compressed on a helper
/// thread.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  /// Connections open at once; below the default 1,024 descriptors of a process.
  static constexpr std::size_t kMaxConnections = 512;

  /// Binds at once; throws std::system_error when the address cannot be bound.
  HttpServer(asio::io_context& io, const std::string& host, std::uint16_t port, Handler handler,
             std::shared_ptr<const WebConfig> web = nullptr);

  /// Bodies above this many bytes are compressed for clients that accept gzip.
  static constexpr std::size_t kCompressAbove = 1024;

  /// Also serves on a Unix stream socket at `path`, mode 0660 (the process's group may use it).
  /// A stale socket (nobody answers) is replaced; any other file at the path, or a socket
  /// another process answers on, is refused: throws std::system_error.
  void listenLocal(const std::string& path);
  /// The local socket's path, empty when there is none.
  const std::string& localPath() const { return local_path_; }

  /// Removes the local socket's file if stop() has not.
  ~HttpServer() { stop(); }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The bound port (useful when 0 was asked for).
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void start();
  void stop();
  /// Applies to the connections accepted from now on; null means plain HTTP, no auth.
  void setWebConfig(std::shared_ptr<const WebConfig> web);

 private:
  class ConnectionSlot;
  /// Shared with each connection: its coroutine may be destroyed after the server (the loop
  /// outlives the server in the daemon).
  struct Connections {
    std::size_t open = 0;
    std::size_t peak = 0;
    /// Connections that have not sent a whole request head yet, oldest first.
    std::list<ConnectionSlot*> waiting_for_head;
  };
  struct FailedLogins {
    std::size_t count = 0;
    std::chrono::steady_clock::time_point window_start;
    std::chrono::steady_clock::time_point blocked_until;
  };

  template <typename Acceptor>
  asio::awaitable<void> acceptLoop(Acceptor& acceptor);
  asio::awaitable<void> serve(asio::ip::tcp::socket socket);
  asio::awaitable<void> serve(asio::local::stream_protocol::socket socket);
  /// True when a response went out (worth a TLS close_notify). `request` comes with what the
  /// connection tells (remote address, or the socket peer's user).
  template <typename Stream>
  asio::awaitable<bool> serveStream(Stream& stream, std::shared_ptr<const WebConfig> web,
                                    ConnectionSlot& slot, HttpRequest request);
  /// Compresses the body when the client accepts gzip and it is worth it; sets the headers
  /// that say so.
  asio::awaitable<void> maybeCompress(const HttpRequest& request, HttpResponse& response,
                                      std::string& encoding_headers);
  /// nullopt when the request may go on; otherwise the response that refuses it.
  /// Sets request.user and request.is_operator when the credentials are good.
  asio::awaitable<std::optional<HttpResponse>> authenticate(
      HttpRequest& request, const std::shared_ptr<const WebConfig>& web);
  asio::awaitable<bool> checkPasswordOffLoop(std::shared_ptr<const WebConfig> web, std::string user,
                                             std::string password);
  bool throttled(const std::string& remote);
  void loginFailed(const std::string& remote, const std::string& user);
  /// Closes the oldest connection still waiting for its request head; false when there is none.
  bool evictOldestWaiting();

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  std::shared_ptr<const WebConfig> web_;
  /// Successful checks by digest of user and password, with the hash they matched.
  std::unordered_map<std::string, std::string> verified_;
  std::size_t checks_in_flight_ = 0;
  std::shared_ptr<Connections> connections_ = std::make_shared<Connections>();
  /// Failed logins by client address.
  std::unordered_map<std::string, FailedLogins> failures_;
  std::chrono::steady_clock::time_point log_window_start_;
  std::size_t logged_in_window_ = 0;
  std::size_t unlogged_failures_ = 0;
  asio::steady_timer accept_pause_;
  std::optional<asio::local::stream_protocol::acceptor> local_acceptor_;
  std::string local_path_;
  asio::thread_pool bcrypt_pool_{1};
  /// Compression of big bodies (a /metrics of 10,000 probes) off the loop.
  asio::thread_pool compress_pool_{1};
};

}  // namespace vigie
