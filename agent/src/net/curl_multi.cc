// SPDX-License-Identifier: Apache-2.0
#include "net/curl_multi.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/io_context.hpp>
#include <cerrno>
#include <new>
#include <stdexcept>

namespace vigie {

namespace {

int newEpoll() {
  const int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error("epoll_create1 failed");
  }
  return fd;
}

}  // namespace

CurlMulti::CurlMulti(asio::execution_context& context)
    : asio::execution_context::service(context),
      executor_(static_cast<asio::io_context&>(context).get_executor()),
      multi_(curl_multi_init()),
      timer_(executor_),
      sockets_(executor_, newEpoll()) {
  if (multi_ == nullptr) {
    throw std::runtime_error("curl_multi_init failed");
  }
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMulti::onSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMulti::onTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

CurlMulti::~CurlMulti() { shutdown(); }

CurlMulti& CurlMulti::of(const asio::any_io_executor& executor) {
  return asio::use_service<CurlMulti>(asio::query(executor, asio::execution::context));
}

void CurlMulti::shutdown() {
  if (multi_ == nullptr) {
    return;
  }
  timer_.cancel();
  timer_armed_ = false;
  for (auto& [easy, pending] : pending_) {
    curl_multi_remove_handle(multi_, easy);
  }
  pending_.clear();
  // Null first: the callbacks curl makes while it closes the connections it kept arm nothing.
  CURLM* multi = multi_;
  multi_ = nullptr;
  curl_multi_cleanup(multi);
  asio::error_code ignored;
  sockets_.close(ignored);
  for (CURL* easy : idle_) {
    curl_easy_cleanup(easy);
  }
  idle_.clear();
}

CurlMulti::Easy CurlMulti::easyHandle() {
  CURL* easy = nullptr;
  if (!idle_.empty()) {
    easy = idle_.back();
    idle_.pop_back();
  } else if ((easy = curl_easy_init()) == nullptr) {
    throw std::bad_alloc();
  }
  return Easy(easy, EasyGiveBack{this});
}

namespace {

// curl_easy_reset keeps the cookies, and drops the list of cookie files without freeing it.
// Setting CURLOPT_COOKIEFILE to NULL erases both, but only since curl 7.77.0; older versions
// (RHEL 9 ships 7.76) get no pool: a fresh handle per transfer.
bool canReuseHandles() {
  static const bool can = curl_version_info(CURLVERSION_NOW)->version_num >= 0x074d00;
  return can;
}

}  // namespace

void CurlMulti::giveBack(CURL* easy) {
  if (easy == nullptr) {
    return;
  }
  // After shutdown (a transfer's frame destroyed with the io_context) there is no pool left.
  if (multi_ == nullptr || idle_.size() >= kMaxIdle || !canReuseHandles()) {
    curl_easy_cleanup(easy);
    return;
  }
  // One probe's session cookies must never reach another's request.
  curl_easy_setopt(easy, CURLOPT_COOKIEFILE, nullptr);
  curl_easy_reset(easy);
  idle_.push_back(easy);
}

void CurlMulti::start(CURL* easy, std::unique_ptr<PendingBase> pending) {
  // Set per transfer: a handle given back is reset to curl's defaults.
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &CurlMulti::onOpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &CurlMulti::onCloseSocket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  pending_[easy] = std::move(pending);
  const CURLMcode code = curl_multi_add_handle(multi_, easy);
  if (code != CURLM_OK) {
    auto node = pending_.extract(easy);
    node.mapped()->complete(CURLE_FAILED_INIT);
  }
  // curl arms its timer from add_handle; the transfer starts when it fires.
}

void CurlMulti::abort(CURL* easy) {
  auto node = pending_.extract(easy);
  if (node.empty()) {
    return;
  }
  curl_multi_remove_handle(multi_, easy);
  dropUnwatched();
  node.mapped()->complete(CURLE_ABORTED_BY_CALLBACK);
}

void CurlMulti::finishTransfers() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) {
      continue;
    }
    CURL* easy = message->easy_handle;
    const CURLcode result = message->data.result;
    curl_multi_remove_handle(multi_, easy);
    dropUnwatched();
    auto node = pending_.extract(easy);
    if (!node.empty()) {
      node.mapped()->complete(result);
    }
  }
}

void CurlMulti::socketAction(curl_socket_t socket, int events) {
  int running = 0;
  curl_multi_socket_action(multi_, socket, events, &running);
  dropUnwatched();
  finishTransfers();
}

void CurlMulti::dropUnwatched() {
  for (const curl_socket_t socket : unwatched_) {
    epoll_ctl(sockets_.native_handle(), EPOLL_CTL_DEL, socket, nullptr);
    registered_[static_cast<std::size_t>(socket)] = 0;
    --watched_;
  }
  unwatched_.clear();
  stopWaitingWhenIdle();
}

void CurlMulti::stopWaitingWhenIdle() {
  if (watched_ == 0 && sockets_waiting_) {
    asio::error_code ignored;
    sockets_.cancel(ignored);
  }
}

void CurlMulti::waitForSockets() {
  if (sockets_waiting_ || multi_ == nullptr || watched_ == 0) {
    return;
  }
  sockets_waiting_ = true;
  sockets_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](const asio::error_code& ec) {
                        sockets_waiting_ = false;
                        if (multi_ == nullptr) {
                          return;
                        }
                        if (!ec) {
                          onSocketsReady();
                        } else if (ec == asio::error::operation_aborted) {
                          waitForSockets();  // cancelled when idle: a socket may have come since
                        }
                      });
}

void CurlMulti::onSocketsReady() {
  std::array<epoll_event, 64> events;
  const int ready =
      epoll_wait(sockets_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
  for (int i = 0; i < ready; ++i) {
    const auto socket = static_cast<curl_socket_t>(events[static_cast<std::size_t>(i)].data.fd);
    const std::uint32_t happened = events[static_cast<std::size_t>(i)].events;
    // An earlier socket_action of this round may have closed it: then it is not ours now.
    if (registered_[static_cast<std::size_t>(socket)] == 0) {
      continue;
    }
    int select = 0;
    if ((happened & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
      select |= CURL_CSELECT_IN;
    }
    if ((happened & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
      select |= CURL_CSELECT_OUT;
    }
    if ((happened & EPOLLERR) != 0) {
      select |= CURL_CSELECT_ERR;
    }
    socketAction(socket, select);
  }
  if (ready > 0) {
    // The loop's own epoll sees this set edge-triggered: look again until it is empty, or a
    // socket still ready would wait for an unrelated event. Posted: no wake-up, no recursion.
    asio::post(executor_, [this] {
      if (multi_ != nullptr) {
        onSocketsReady();
      }
    });
    return;
  }
  waitForSockets();
}

int CurlMulti::onSocket(CURL*, curl_socket_t socket, int what, void* self_ptr, void*) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  const auto index = static_cast<std::size_t>(socket);
  if (index >= self->registered_.size()) {
    self->registered_.resize(std::max(index + 1, self->registered_.size() * 2), 0);
  }
  std::uint32_t& registered = self->registered_[index];
  auto& unwatched = self->unwatched_;
  if (what == CURL_POLL_REMOVE) {
    // Most sockets are closed right after: leaving the set is then free.
    if (registered != 0 &&
        std::find(unwatched.begin(), unwatched.end(), socket) == unwatched.end()) {
      unwatched.push_back(socket);
    }
    return 0;
  }
  unwatched.erase(std::remove(unwatched.begin(), unwatched.end(), socket), unwatched.end());
  const std::uint32_t wanted =
      ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
  if (wanted != registered) {
    epoll_event event{};
    event.events = wanted;
    event.data.fd = socket;
    const int epoll = self->sockets_.native_handle();
    if (registered == 0) {
      ++self->watched_;
    }
    if (epoll_ctl(epoll, registered == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, socket, &event) != 0 &&
        errno == EEXIST) {
      // Still in the set under an old registration (a socket closed behind our back).
      epoll_ctl(epoll, EPOLL_CTL_MOD, socket, &event);
    }
    registered = wanted;
  }
  self->waitForSockets();
  return 0;
}

curl_socket_t CurlMulti::onOpenSocket(void*, curlsocktype, curl_sockaddr* address) {
  // Non-blocking and close-on-exec in the one call: a plugin started later never inherits it.
  return socket(address->family, address->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                address->protocol);
}

int CurlMulti::onCloseSocket(void* self_ptr, curl_socket_t socket) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  const auto index = static_cast<std::size_t>(socket);
  if (index < self->registered_.size() && self->registered_[index] != 0) {
    self->registered_[index] = 0;  // closing takes it out of the epoll set
    --self->watched_;
  }
  auto& unwatched = self->unwatched_;
  unwatched.erase(std::remove(unwatched.begin(), unwatched.end(), socket), unwatched.end());
  const int result = close(socket);
  self->stopWaitingWhenIdle();
  return result;
}

int CurlMulti::onTimer(CURLM*, long timeout_ms, void* self_ptr) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  if (timeout_ms < 0) {
    self->timer_.cancel();
    self->timer_armed_ = false;
    return 0;
  }
  if (timeout_ms == 0) {
    // "As soon as possible", which curl asks for every transfer added: a posted call, not a
    // timer. Arming the timer there re-programmed the kernel's timerfd each time, an eighth of
    // the agent's CPU at 2,000 probes/s.
    if (!self->timeout_posted_) {
      self->timeout_posted_ = true;
      asio::post(self->executor_, [self] {
        self->timeout_posted_ = false;
        if (self->multi_ != nullptr) {
          self->socketAction(CURL_SOCKET_TIMEOUT, 0);
        }
      });
    }
    return 0;
  }
  const auto expiry = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  // An armed timer that fires sooner is kept: waking early costs one idle socket_action, while
  // re-arming would cost a timerfd update each time curl's earliest deadline moves later.
  if (self->timer_armed_ && self->timer_.expiry() <= expiry) {
    return 0;
  }
  self->timer_armed_ = true;
  self->timer_.expires_at(expiry);
  self->timer_.async_wait([self](const asio::error_code& ec) {
    if (ec) {
      return;  // replaced or cancelled: whoever did it keeps timer_armed_ right
    }
    self->timer_armed_ = false;
    self->socketAction(CURL_SOCKET_TIMEOUT, 0);
  });
  return 0;
}

}  // namespace vigie
