// SPDX-License-Identifier: Apache-2.0
#include "net/curl_multi.h"

#include <asio/io_context.hpp>
#include <new>
#include <stdexcept>

namespace vigie {

/// Asio's view of one socket curl asked us to watch. The descriptor never owns the fd: curl
/// opens and closes it, so it is released, never closed, when curl lets go of it.
struct CurlMulti::Watcher {
  Watcher(const asio::any_io_executor& executor, curl_socket_t fd)
      : descriptor(executor, fd), socket(fd) {}
  ~Watcher() {
    if (descriptor.is_open()) {
      descriptor.release();
    }
  }

  asio::posix::stream_descriptor descriptor;
  curl_socket_t socket;
  int wanted = 0;  ///< CURL_POLL_IN/OUT/INOUT
  bool reading = false;
  bool writing = false;
  bool removed = false;
};

CurlMulti::CurlMulti(asio::execution_context& context)
    : asio::execution_context::service(context),
      executor_(static_cast<asio::io_context&>(context).get_executor()),
      multi_(curl_multi_init()),
      timer_(executor_) {
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
  watchers_.clear();
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
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
    auto node = pending_.extract(easy);
    if (!node.empty()) {
      node.mapped()->complete(result);
    }
  }
}

void CurlMulti::socketAction(curl_socket_t socket, int events) {
  int running = 0;
  curl_multi_socket_action(multi_, socket, events, &running);
  finishTransfers();
}

void CurlMulti::watch(const std::shared_ptr<Watcher>& watcher) {
  auto arm = [this, &watcher](bool& pending, asio::posix::stream_descriptor::wait_type type,
                              int select) {
    pending = true;
    watcher->descriptor.async_wait(
        type, [this, watcher, &pending, select](const asio::error_code& ec) {
          pending = false;
          if (watcher->removed) {
            return;
          }
          if (!ec) {
            socketAction(watcher->socket, select);
          }
          // Aborted waits were dropped because curl narrowed its interest: re-arm what it wants.
          if (!watcher->removed && (!ec || ec == asio::error::operation_aborted)) {
            watch(watcher);
          }
        });
  };
  if ((watcher->wanted & CURL_POLL_IN) != 0 && !watcher->reading) {
    arm(watcher->reading, asio::posix::stream_descriptor::wait_read, CURL_CSELECT_IN);
  }
  if ((watcher->wanted & CURL_POLL_OUT) != 0 && !watcher->writing) {
    arm(watcher->writing, asio::posix::stream_descriptor::wait_write, CURL_CSELECT_OUT);
  }
}

int CurlMulti::onSocket(CURL*, curl_socket_t socket, int what, void* self_ptr, void*) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  auto it = self->watchers_.find(socket);
  if (what == CURL_POLL_REMOVE) {
    if (it != self->watchers_.end()) {
      // Released now, not when the last handler lets go: curl may reuse the fd number at once.
      it->second->removed = true;
      it->second->descriptor.release();
      self->watchers_.erase(it);
    }
    return 0;
  }
  if (it == self->watchers_.end()) {
    it = self->watchers_.emplace(socket, std::make_shared<Watcher>(self->executor_, socket)).first;
  }
  const auto& watcher = it->second;
  const bool narrowed = (watcher->wanted & ~what) != 0;
  watcher->wanted = what;
  if (narrowed && (watcher->reading || watcher->writing)) {
    // Drop waits curl no longer wants; they are re-armed below for what it still wants.
    asio::error_code ignored;
    watcher->descriptor.cancel(ignored);
  }
  // Armed from the loop, not from inside curl's callback.
  asio::post(self->executor_, [self, watcher] {
    if (!watcher->removed) {
      self->watch(watcher);
    }
  });
  return 0;
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
