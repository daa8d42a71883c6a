// SPDX-License-Identifier: Apache-2.0
#include "http/http_server.h"

#include <malloc.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "util/log.h"
#include "util/no_throw.h"

namespace vigie {
namespace {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
// The whole request (head and body) must arrive within this; so must the response go out.
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr auto kHandshakeTimeout = std::chrono::seconds(5);
// close_notify exchange after the response; a peer that never answers is simply dropped.
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(2);
// Out of descriptors: accepting again at once would fail again at once (the pending
// connection stays in the backlog), so the loop waits this long between tries.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr auto kAcceptLogInterval = std::chrono::seconds(60);
// bcrypt checks queued for the helper thread; beyond this, guessing clients get 503 at once.
constexpr std::size_t kMaxChecksInFlight = 8;
// Remembered successful logins (a scraper sends the same credentials every time).
constexpr std::size_t kMaxVerified = 256;
// A client with this many failed logins within kFailureWindow gets 429 for kThrottleTime.
constexpr std::size_t kMaxFailedLogins = 5;
constexpr auto kFailureWindow = std::chrono::seconds(60);
constexpr auto kThrottleTime = std::chrono::seconds(60);
constexpr std::size_t kMaxTrackedClients = 4096;
// Failed logins logged per minute; the others are counted in the next line.
constexpr std::size_t kMaxLoginLogsPerWindow = 10;
// After a burst of this many connections, freed buffers go back to the system once idle.
constexpr std::size_t kTrimAfterPeak = 64;
// zlib level 1: the 17.7 MB /metrics of 10,000 probes in 100-140 ms down to 5 %, a 2 MB page
// in 12 ms down to 6 %; level 6 takes twice as long for one point more (bench/gzip_bench.py).
constexpr int kGzipLevel = 1;
// Below this a body is compressed on the loop (well under a millisecond); above, on the
// helper thread, so a /metrics scrape never holds the probes back.
constexpr std::size_t kCompressOnLoopBelow = 64 * 1024;

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 303:
      return "See Other";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool outOfDescriptors(const asio::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec.value() == ENOBUFS ||
         ec.value() == ENOMEM;
}

std::string lower(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lowered;
}

bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool isToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isTokenChar);
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view trimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// 0 for HTTP/1.0 and HTTP/1.1, 505 for another well-formed version, 400 otherwise.
int checkVersion(std::string_view version) {
  if (version == "HTTP/1.1" || version == "HTTP/1.0") {
    return 0;
  }
  const bool well_formed = version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
                           isDigit(version[5]) && version[6] == '.' && isDigit(version[7]);
  return well_formed ? 505 : 400;
}

// Up to 200 user-name characters for a log line, control characters and non-ASCII escaped.
std::string printable(std::string_view text) {
  constexpr std::size_t kMaxLogged = 200;
  std::string out;
  for (const char c : text.substr(0, kMaxLogged)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '\\' || c == '\'') {
      constexpr std::string_view kHex = "0123456789abcdef";
      out.append("\\x").push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  if (text.size() > kMaxLogged) {
    out.append("...");
  }
  return out;
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

// The Unix user of a uid, or "uid:N" when the system has no name for it.
std::string userName(uid_t uid) {
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::string buffer(size > 0 ? static_cast<std::size_t>(size) : 16384, '\0');
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return "uid:" + std::to_string(uid);
}

}  // namespace

bool acceptsGzip(std::string_view accept_encoding) {
  std::size_t pos = 0;
  while (pos <= accept_encoding.size()) {
    std::size_t end = accept_encoding.find(',', pos);
    if (end == std::string_view::npos) {
      end = accept_encoding.size();
    }
    const std::string_view item = accept_encoding.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t semicolon = item.find(';');
    const std::string coding = lower(trimSpaces(item.substr(0, semicolon)));
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") {
      continue;
    }
    if (semicolon == std::string_view::npos) {
      return true;
    }
    // "gzip;q=0" refuses it; any other weight accepts it.
    std::string params = lower(item.substr(semicolon + 1));
    std::erase_if(params, [](char c) { return c == ' ' || c == '\t'; });
    if (params.rfind("q=", 0) != 0) {
      return true;
    }
    const std::string_view q = std::string_view(params).substr(2);
    return q.find_first_not_of("0.") != std::string_view::npos;
  }
  return false;
}

std::string gzipCompress(std::string_view body, int level) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(body.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return status == Z_STREAM_END ? out : std::string();
}

int parseRequestHead(std::string_view head, HttpRequest& request, std::size_t& content_length) {
  content_length = 0;
  const std::size_t line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) {
    return 400;
  }
  const std::string_view line = head.substr(0, line_end);
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos) {
    return 400;
  }
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const bool target_ok =
      !target.empty() && target.front() == '/' &&
      std::none_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) == 0x7f;
      });
  if (!isToken(method) || !target_ok) {
    return 400;
  }
  if (const int status = checkVersion(line.substr(second + 1))) {
    return status;
  }
  request.method = method;
  request.target = target;
  bool seen_authorization = false;
  bool seen_length = false;
  std::size_t pos = line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) {
      end = head.size();
    }
    const std::string_view header = head.substr(pos, end - pos);
    pos = end + 2;
    if (header.empty()) {
      break;  // the blank line that ends the head
    }
    // No line folding, no bare CR or LF, no NUL: each is a way to smuggle a header.
    const std::size_t colon = header.find(':');
    if (colon == std::string_view::npos || !isToken(header.substr(0, colon)) ||
        header.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      return 400;
    }
    const std::string name = lower(header.substr(0, colon));
    const std::string_view value = trimSpaces(header.substr(colon + 1));
    if (name == "authorization") {
      if (std::exchange(seen_authorization, true)) {
        return 400;
      }
      request.authorization = value;
    } else if (name == "content-type") {
      request.content_type = value;
    } else if (name == "accept-language") {
      request.accept_language = value;
    } else if (name == "accept-encoding") {
      request.accept_encoding = value;
    } else if (name == "cookie") {
      request.cookie = value;
    } else if (name == "origin") {
      request.origin = value;
    } else if (name == "sec-fetch-site") {
      request.sec_fetch_site = value;
    } else if (name == "content-length") {
      std::size_t length = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (value.empty() || !isDigit(value.front()) || ec != std::errc() ||
          ptr != value.data() + value.size() || (seen_length && length != content_length)) {
        return 400;
      }
      seen_length = true;
      content_length = length;
    } else if (name == "transfer-encoding") {
      return 501;  // no chunked bodies: nothing here needs one
    }
  }
  return content_length > kMaxBodyBytes ? 413 : 0;
}

std::optional<std::pair<std::string, std::string>> parseBasicCredentials(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size() || lower(header.substr(0, kScheme.size())) != kScheme) {
    return std::nullopt;
  }
  const std::string_view encoded = header.substr(kScheme.size());
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
  for (auto it = encoded.rbegin(); it != encoded.rend() && *it == '=' && size > 0; ++it) {
    --size;
  }
  decoded.resize(size);
  const std::size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  return std::pair{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

/// A connection's place among the open ones, and in the list of those still sending their head
/// (the ones evicted first when the server is full or out of descriptors).
class HttpServer::ConnectionSlot {
 public:
  template <typename Socket>
  ConnectionSlot(std::shared_ptr<Connections> connections, Socket& socket)
      : connections_(std::move(connections)), close_([&socket] {
          asio::error_code ignored;
          socket.close(ignored);
        }) {
    place_ = connections_->waiting_for_head.insert(connections_->waiting_for_head.end(), this);
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() {
    headReceived();
    if (--connections_->open == 0 && connections_->peak >= kTrimAfterPeak) {
      // Each TLS connection held tens of KiB; without this the heap keeps them after a burst.
      connections_->peak = 0;
      malloc_trim(0);
    }
  }
  void headReceived() {
    if (place_) {
      connections_->waiting_for_head.erase(*place_);
      place_.reset();
    }
  }
  /// Closing frees the descriptor now; the connection's pending read ends with an error.
  void evict() {
    headReceived();
    close_();
  }

 private:
  std::shared_ptr<Connections> connections_;
  std::function<void()> close_;
  std::optional<std::list<ConnectionSlot*>::iterator> place_;
};

HttpServer::HttpServer(asio::io_context& io, const std::string& host, std::uint16_t port,
                       Handler handler, std::shared_ptr<const WebConfig> web)
    : io_(io),
      acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address(host), port)),
      handler_(std::move(handler)),
      web_(std::move(web)),
      accept_pause_(io) {}

void HttpServer::setWebConfig(std::shared_ptr<const WebConfig> web) { web_ = std::move(web); }

void HttpServer::listenLocal(const std::string& path) {
  namespace fs = std::filesystem;
  using Local = asio::local::stream_protocol;
  struct stat existing {};
  if (lstat(path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) {
      throw std::system_error(std::make_error_code(std::errc::file_exists),
                              path + " exists and is not a socket: refusing to replace it");
    }
    Local::socket probe(io_);
    asio::error_code ec;
    probe.connect(Local::endpoint(path), ec);
    if (!ec) {
      throw std::system_error(std::make_error_code(std::errc::address_in_use),
                              path + ": another process answers on this socket");
    }
    // Nobody listens: the socket of an agent that did not stop cleanly.
    logInfo("http: removing the stale socket " + path);
    fs::remove(path);
  }
  Local::acceptor acceptor(io_);
  acceptor.open();
  // Created 0660 from the start (umask), then set exactly (whatever the umask was).
  const mode_t previous = umask(0117);
  asio::error_code ec;
  acceptor.bind(Local::endpoint(path), ec);
  umask(previous);
  if (ec) {
    throw std::system_error(ec, "cannot bind the local socket " + path);
  }
  if (chmod(path.c_str(), 0660) != 0) {
    const int error = errno;
    fs::remove(path);
    throw std::system_error(error, std::generic_category(), "chmod 0660 " + path);
  }
  local_path_ = path;
  acceptor.listen();
  local_acceptor_.emplace(std::move(acceptor));
}

void HttpServer::start() {
  asio::co_spawn(io_, acceptLoop(acceptor_), asio::detached);
  if (local_acceptor_) {
    asio::co_spawn(io_, acceptLoop(*local_acceptor_), asio::detached);
  }
}

void HttpServer::stop() {
  asio::error_code ignored;
  acceptor_.close(ignored);
  if (local_acceptor_ && local_acceptor_->is_open()) {
    local_acceptor_->close(ignored);
    // Only the socket this server made: a later agent may own the path by now otherwise.
    std::error_code remove_ec;
    std::filesystem::remove(local_path_, remove_ec);
  }
  accept_pause_.cancel();
}

bool HttpServer::evictOldestWaiting() {
  if (connections_->waiting_for_head.empty()) {
    return false;
  }
  connections_->waiting_for_head.front()->evict();
  return true;
}

template <typename Acceptor>
asio::awaitable<void> HttpServer::acceptLoop(Acceptor& acceptor) {
  std::size_t failures_unlogged = 0;
  Clock::time_point last_failure_log{};
  while (acceptor.is_open()) {
    // An evicted connection's descriptor is closed at once, though its coroutine ends later.
    if (connections_->open >= kMaxConnections && !evictOldestWaiting()) {
      // Every connection is past its head (answering, or waiting for bcrypt): wait for one.
      accept_pause_.expires_after(kAcceptPause);
      co_await accept_pause_.async_wait(kNoThrow);
      continue;
    }
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
      co_return;
    }
    if (outOfDescriptors(ec)) {
      // Make room by dropping the oldest client still sending its head; with none to drop,
      // wait instead of spinning on an accept that fails at once.
      ++failures_unlogged;
      if (Clock::now() - last_failure_log >= kAcceptLogInterval) {
        logWarning("http: accept failed: " + ec.message() +
                   "; closing idle connections or pausing accepts (" +
                   std::to_string(failures_unlogged) + " failures since the last such line)");
        failures_unlogged = 0;
        last_failure_log = Clock::now();
      }
      if (!evictOldestWaiting()) {
        accept_pause_.expires_after(kAcceptPause);
        co_await accept_pause_.async_wait(kNoThrow);
      }
      continue;
    }
    if (ec) {
      logDebug("http: accept failed: " + ec.message());  // e.g. the client reset already
      continue;
    }
    ++connections_->open;
    connections_->peak = std::max(connections_->peak, connections_->open);
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::serve(asio::local::stream_protocol::socket socket) {
  ConnectionSlot slot(connections_, socket);
  HttpRequest request;
  request.via_socket = true;
  request.remote = "local socket";
  ucred peer{};
  socklen_t size = sizeof peer;
  if (getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
    logWarning(std::string("http: no peer credentials on the local socket: ") +
               std::strerror(errno));
    co_return;
  }
  request.peer_uid = static_cast<long>(peer.uid);
  request.user = userName(peer.uid);
  // Whoever may open the socket (mode 0660: the service's user and group) may act.
  request.is_operator = true;
  // No TLS nor basic auth here: the kernel vouches for the peer.
  co_await serveStream(socket, nullptr, slot, std::move(request));
  asio::error_code ignored;
  socket.shutdown(asio::local::stream_protocol::socket::shutdown_both, ignored);
}

asio::awaitable<void> HttpServer::serve(asio::ip::tcp::socket socket) {
  // The configuration a connection starts with is the one it keeps, even across a reload.
  std::shared_ptr<const WebConfig> web = web_;
  HttpRequest request;
  asio::error_code endpoint_ec;
  request.remote = socket.remote_endpoint(endpoint_ec).address().to_string();
  if (!web || !web->tls) {
    ConnectionSlot slot(connections_, socket);
    co_await serveStream(socket, web, slot, std::move(request));
    asio::error_code ignored;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    co_return;
  }
  asio::ssl::stream<asio::ip::tcp::socket> stream(std::move(socket), *web->tls);
  ConnectionSlot slot(connections_, stream.next_layer());
  // OpenSSL's read and write buffers (~34 KiB each) only while data is in flight.
  SSL_set_mode(stream.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  asio::steady_timer timer(stream.get_executor(), kHandshakeTimeout);
  auto handshake = co_await (stream.async_handshake(asio::ssl::stream_base::server, kNoThrow) ||
                             timer.async_wait(kNoThrow));
  if (handshake.index() == 1) {
    co_return;
  }
  if (const auto [ec] = std::get<0>(handshake); ec) {
    logDebug("http: TLS handshake failed: " + ec.message());
    co_return;
  }
  if (co_await serveStream(stream, web, slot, std::move(request))) {
    timer.expires_after(kTlsShutdownTimeout);
    co_await (stream.async_shutdown(kNoThrow) || timer.async_wait(kNoThrow));
  }
}

bool HttpServer::throttled(const std::string& remote) {
  const auto found = failures_.find(remote);
  return found != failures_.end() && Clock::now() < found->second.blocked_until;
}

void HttpServer::loginFailed(const std::string& remote, const std::string& user) {
  const auto now = Clock::now();
  if (failures_.size() >= kMaxTrackedClients && failures_.count(remote) == 0) {
    std::erase_if(failures_, [now](const auto& entry) {
      return now - entry.second.window_start >= kFailureWindow && now >= entry.second.blocked_until;
    });
    if (failures_.size() >= kMaxTrackedClients) {
      failures_.clear();  // a flood from many addresses: start over rather than grow
    }
  }
  FailedLogins& client = failures_[remote];
  if (now - client.window_start >= kFailureWindow) {
    client.window_start = now;
    client.count = 0;
  }
  ++client.count;
  const bool blocking = client.count >= kMaxFailedLogins;
  if (blocking) {
    client.blocked_until = now + kThrottleTime;
    client.count = 0;
    client.window_start = now;
  }
  if (now - log_window_start_ >= std::chrono::minutes(1)) {
    log_window_start_ = now;
    logged_in_window_ = 0;
  }
  if (logged_in_window_ >= kMaxLoginLogsPerWindow) {
    ++unlogged_failures_;
    return;
  }
  ++logged_in_window_;
  std::string line = "http: failed login for user '" + printable(user) + "' from " + remote;
  if (blocking) {
    line.append("; throttled for " + std::to_string(kThrottleTime.count()) + " s after " +
                std::to_string(kMaxFailedLogins) + " failures");
  }
  if (unlogged_failures_ > 0) {
    line.append(" (" + std::to_string(unlogged_failures_) + " more failed logins not logged)");
    unlogged_failures_ = 0;
  }
  logWarning(line);
}

asio::awaitable<std::optional<HttpResponse>> HttpServer::authenticate(
    HttpRequest& request, const std::shared_ptr<const WebConfig>& web) {
  if (!web || web->basic_auth_users.empty()) {
    co_return std::nullopt;
  }
  const HttpResponse unauthorized{401, "text/plain; charset=utf-8", "Unauthorized\n", {}};
  if (request.authorization.empty()) {
    co_return unauthorized;  // a client's first try, before it knows auth is needed
  }
  auto credentials = parseBasicCredentials(request.authorization);
  const auto known =
      credentials ? web->basic_auth_users.find(credentials->first) : web->basic_auth_users.end();
  const std::string key =
      credentials ? credentialDigest(credentials->first, credentials->second) : std::string();
  if (known != web->basic_auth_users.end()) {
    // Known good credentials pass even from a throttled address: they cost no bcrypt.
    const auto cached = verified_.find(key);
    if (cached != verified_.end() && cached->second == known->second) {
      request.user = known->first;
      request.is_operator = web->isOperator(request.user);
      co_return std::nullopt;
    }
  }
  if (throttled(request.remote)) {
    co_return HttpResponse{429, "text/plain; charset=utf-8", "too many failed logins\n", {}};
  }
  if (!credentials) {
    loginFailed(request.remote, "");
    co_return unauthorized;
  }
  auto& [user, password] = *credentials;
  if (checks_in_flight_ >= kMaxChecksInFlight) {
    co_return HttpResponse{503, "text/plain; charset=utf-8", "authentication busy, retry\n", {}};
  }
  ++checks_in_flight_;
  const bool valid = co_await checkPasswordOffLoop(web, user, std::move(password));
  --checks_in_flight_;
  if (!valid) {
    loginFailed(request.remote, user);
    co_return unauthorized;
  }
  if (verified_.size() >= kMaxVerified) {
    verified_.clear();
  }
  verified_[key] = known->second;
  request.user = known->first;
  request.is_operator = web->isOperator(request.user);
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

asio::awaitable<void> HttpServer::maybeCompress(const HttpRequest& request, HttpResponse& response,
                                                std::string& encoding_headers) {
  if (response.body.size() <= kCompressAbove) {
    co_return;
  }
  // The answer depends on Accept-Encoding: caches must key on it.
  encoding_headers = "Vary: Accept-Encoding\r\n";
  if (!acceptsGzip(request.accept_encoding)) {
    co_return;
  }
  std::string compressed;
  if (response.body.size() < kCompressOnLoopBelow) {
    compressed = gzipCompress(response.body, kGzipLevel);
  } else {
    auto start = [this, &response](auto handler) mutable {
      asio::post(compress_pool_, [&body = response.body, handler = std::move(handler),
                                  work = asio::make_work_guard(io_)]() mutable {
        // The coroutine, and so the body, waits for this: reading it from here is safe.
        std::string gzipped = gzipCompress(body, kGzipLevel);
        asio::post(work.get_executor(),
                   [handler = std::move(handler), gzipped = std::move(gzipped)]() mutable {
                     std::move(handler)(std::move(gzipped));
                   });
      });
    };
    compressed = co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::string)>(
        std::move(start), asio::use_awaitable);
  }
  if (compressed.empty()) {
    co_return;  // zlib failed (out of memory): the body goes out as it is
  }
  response.body = std::move(compressed);
  encoding_headers.append("Content-Encoding: gzip\r\n");
}

template <typename Stream>
asio::awaitable<bool> HttpServer::serveStream(Stream& socket, std::shared_ptr<const WebConfig> web,
                                              ConnectionSlot& slot, HttpRequest request) {
  HttpResponse response;
  std::string buffer;
  auto read_request = [&]() -> asio::awaitable<int> {
    auto [ec, head_size] = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(buffer, kMaxHeaderBytes), "\r\n\r\n", kNoThrow);
    if (ec) {
      co_return ec == asio::error::not_found ? 431 : -1;
    }
    slot.headReceived();
    std::size_t content_length = 0;
    if (const int status = parseRequestHead(std::string_view(buffer).substr(0, head_size), request,
                                            content_length)) {
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
    co_return false;  // The client was too slow: drop it.
  }
  const int status = std::get<0>(outcome);
  if (status < 0) {
    co_return false;
  }
  if (status > 0) {
    response = HttpResponse{
        status, "text/plain; charset=utf-8", std::string(reasonPhrase(status)) + "\n", {}};
  } else if (auto refused = co_await authenticate(request, web)) {
    response = std::move(*refused);
  } else {
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      logError("http: handler for " + request.target + " failed: " + e.what());
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n", {}};
    }
  }
  if (request.via_socket && request.method != "GET" && request.method != "HEAD") {
    logInfo("http: " + request.method + " " + printable(request.target) +
            " on the local socket by " + request.user + " (uid " +
            std::to_string(request.peer_uid) + "): " + std::to_string(response.status));
  }
  std::string encoding_headers;
  co_await maybeCompress(request, response, encoding_headers);
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                     std::string(reasonPhrase(response.status)) +
                     "\r\nContent-Type: " + response.content_type +
                     "\r\nContent-Length: " + std::to_string(response.body.size()) +
                     "\r\nConnection: close\r\n" + encoding_headers;
  if (response.status == 401) {
    head.append("WWW-Authenticate: Basic realm=\"vigie-agent\"\r\n");
  }
  if (response.status == 429) {
    head.append("Retry-After: " + std::to_string(kThrottleTime.count()) + "\r\n");
  }
  if (!response.allow.empty()) {
    head.append("Allow: " + response.allow + "\r\n");
  }
  if (!response.location.empty()) {
    head.append("Location: " + response.location + "\r\n");
  }
  head.append("\r\n");
  if (request.method == "HEAD") {
    response.body.clear();  // the head says how long the body would be
  }
  // Head and body go out as two buffers: /metrics bodies run to megabytes, not worth a copy.
  const std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(response.body)};
  timer.expires_after(kRequestTimeout);
  co_await (asio::async_write(socket, out, kNoThrow) || timer.async_wait(kNoThrow));
  co_return true;
}

}  // namespace vigie
