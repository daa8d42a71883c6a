// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <curl/curl.h>

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/execution_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace vigie {

/// libcurl's multi-socket API driven by the Asio event loop: one thread, any number of
/// transfers in flight. One instance per io_context, obtained with `CurlMulti::of(executor)`.
/// Not thread-safe: use it from the loop's thread only.
class CurlMulti : public asio::execution_context::service {
 public:
  using key_type = CurlMulti;
  static inline asio::execution_context::id id;

  explicit CurlMulti(asio::execution_context& context);
  ~CurlMulti() override;
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  /// The instance serving the io_context behind `executor`.
  static CurlMulti& of(const asio::any_io_executor& executor);

  /// Runs the transfer set up on `easy` (which the caller owns and keeps alive until the
  /// operation completes) and completes with its CURLcode. Cancelling the operation removes the
  /// transfer at once and completes with CURLE_ABORTED_BY_CALLBACK.
  template <typename Token>
  auto perform(CURL* easy, Token&& token) {
    return asio::async_initiate<Token, void(CURLcode)>(
        [this](auto handler, CURL* handle) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          if (slot.is_connected()) {
            slot.assign([this, handle](asio::cancellation_type) { abort(handle); });
          }
          start(handle, std::make_unique<Pending<decltype(handler)>>(std::move(handler)));
        },
        token, easy);
  }

  std::size_t inFlight() const { return pending_.size(); }

  struct EasyGiveBack {
    CurlMulti* owner;
    void operator()(CURL* easy) const { owner->giveBack(easy); }
  };
  using Easy = std::unique_ptr<CURL, EasyGiveBack>;
  /// An easy handle with curl's default options and no cookies: an idle one from an earlier
  /// transfer, its buffers already allocated, or a new one. It comes back here when dropped.
  Easy easyHandle();

 private:
  struct PendingBase {
    virtual ~PendingBase() = default;
    virtual void complete(CURLcode code) = 0;
  };
  template <typename Handler>
  struct Pending final : PendingBase {
    explicit Pending(Handler h) : handler(std::move(h)) {}
    void complete(CURLcode code) override {
      asio::get_associated_cancellation_slot(handler).clear();
      // Posted, so the caller resumes outside curl's own call stack.
      auto executor = asio::get_associated_executor(handler);
      asio::post(executor, [h = std::move(handler), code]() mutable { std::move(h)(code); });
    }
    Handler handler;
  };
  void shutdown() override;
  void giveBack(CURL* easy);
  void start(CURL* easy, std::unique_ptr<PendingBase> pending);
  void abort(CURL* easy);
  void finishTransfers();
  void waitForSockets();
  void onSocketsReady();
  void socketAction(curl_socket_t socket, int events);
  void dropUnwatched();
  void stopWaitingWhenIdle();

  static int onSocket(CURL* easy, curl_socket_t socket, int what, void* self, void*);
  static int onTimer(CURLM* multi, long timeout_ms, void* self);
  static curl_socket_t onOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address);
  static int onCloseSocket(void* self, curl_socket_t socket);

  asio::any_io_executor executor_;
  CURLM* multi_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;     ///< timer_ has a wait pending for curl
  bool timeout_posted_ = false;  ///< a CURL_SOCKET_TIMEOUT call is already posted
  std::unordered_map<CURL*, std::unique_ptr<PendingBase>> pending_;
  /// curl's sockets live in an epoll set of their own, level-triggered as curl expects; the
  /// event loop watches that one descriptor. A batch of transfers then costs one wake-up and
  /// one epoll_wait for all its sockets, and a socket costs one EPOLL_CTL_ADD, one MOD when
  /// curl turns from writing to reading, and nothing when it is closed (close leaves the set).
  asio::posix::stream_descriptor sockets_;
  bool sockets_waiting_ = false;
  /// Sockets in the set: with none, nothing waits on it, so an idle io_context can return.
  std::size_t watched_ = 0;
  /// The epoll events registered for each descriptor number, 0 when not in the set.
  std::vector<std::uint32_t> registered_;
  /// Sockets curl stopped watching but did not close (yet): taken out of the set after curl's
  /// call returns, unless curl closed them meanwhile.
  std::vector<curl_socket_t> unwatched_;
  /// Idle easy handles, most recently used last. A new handle and its cleanup cost more than a
  /// probe's own work; the bound keeps a burst from pinning memory.
  std::vector<CURL*> idle_;
  static constexpr std::size_t kMaxIdle = 64;
};

}  // namespace vigie
