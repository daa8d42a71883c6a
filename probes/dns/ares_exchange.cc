// SPDX-License-Identifier: Apache-2.0
#include "dns/ares_exchange.h"

#include <ares.h>

#include <algorithm>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <utility>

#include "util/no_throw.h"

namespace vigie::probes::dns {
namespace {

/// One c-ares channel for one exchange. Per exchange rather than kept by the probe: a channel
/// keeps sockets registered with the loop, and one made with its options set costs no file read
/// (see init), so a probe holds nothing between runs.
class Channel {
 public:
  explicit Channel(asio::any_io_executor executor)
      : executor_(std::move(executor)), timer_(executor_) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  ~Channel() {
    *alive_ = false;
    if (channel_ != nullptr) {
      // Calls back for the query still pending (ignored: alive_ is false) and for each socket
      // it closes, whose descriptor is then released from the loop.
      ares_destroy(channel_);
    }
  }

  int init(const ExchangeOptions& options) {
    ares_options settings{};
    int mask = ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    // NOCHECKRESP: SERVFAIL, REFUSED and NOTIMP are answers to report, not reasons to retry.
    settings.flags =
        ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | (options.tcp_only ? ARES_FLAG_USEVC : 0);
    settings.sock_state_cb = &Channel::onSocketState;
    settings.sock_state_cb_data = this;
    settings.timeout = static_cast<int>(std::max<std::int64_t>(1, options.timeout.count()));
    settings.tries = 1;
    char lookups[] = "b";
    if (!options.servers.empty()) {
      // Every setting resolv.conf could give is given here, so c-ares does not read the file
      // (nor the environment's) for a channel whose server is set next.
      mask |= ARES_OPT_SERVERS | ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS | ARES_OPT_NDOTS |
              ARES_OPT_SORTLIST | ARES_OPT_NOROTATE;
      settings.nservers = 0;
      settings.ndomains = 0;
      settings.lookups = lookups;
      settings.ndots = 1;
      settings.nsort = 0;
    }
    int status = ares_init_options(&channel_, &settings, mask);
    if (status != ARES_SUCCESS) {
      channel_ = nullptr;
      return status;
    }
    if (!options.servers.empty()) {
      status = ares_set_servers_ports_csv(channel_, options.servers.c_str());
    }
    return status;
  }

  asio::awaitable<ExchangeResult> send(const std::vector<unsigned char>& query) {
    asio::steady_timer done(executor_, asio::steady_timer::time_point::max());
    done_ = &done;
    ares_send(channel_, query.data(), static_cast<int>(query.size()), &Channel::onAnswer, this);
    armTimer();
    if (!finished_) {
      co_await done.async_wait(kNoThrow);
    }
    done_ = nullptr;
    if (!finished_) {
      // Cancelled (the probe's deadline, a shutdown): the callback runs from within.
      ares_cancel(channel_);
      result_.status = ARES_ECANCELLED;
    }
    co_return std::move(result_);
  }

 private:
  struct Watcher {
    Watcher(const asio::any_io_executor& executor, int fd) : descriptor(executor, fd) {}
    asio::posix::stream_descriptor descriptor;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;
    bool writing = false;
  };

  static void onAnswer(void* self_ptr, int status, int, unsigned char* answer, int length) {
    auto* self = static_cast<Channel*>(self_ptr);
    if (!*self->alive_ || self->finished_) {
      return;
    }
    self->finished_ = true;
    self->result_.status = status;
    if (answer != nullptr && length > 0) {
      self->result_.answer.assign(answer, answer + length);
    }
    if (self->done_ != nullptr) {
      self->done_->cancel();
    }
  }

  static void onSocketState(void* self_ptr, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Channel*>(self_ptr);
    auto found = std::find_if(self->watchers_.begin(), self->watchers_.end(),
                              [fd](const auto& w) { return w->descriptor.native_handle() == fd; });
    if (readable == 0 && writable == 0) {
      if (found != self->watchers_.end()) {
        // c-ares closes the socket itself right after: the loop only forgets it.
        (*found)->descriptor.release();
        self->watchers_.erase(found);
      }
      return;
    }
    if (found == self->watchers_.end()) {
      self->watchers_.push_back(std::make_unique<Watcher>(self->executor_, fd));
      found = std::prev(self->watchers_.end());
    }
    (*found)->want_read = readable != 0;
    (*found)->want_write = writable != 0;
    self->watch(**found);
  }

  Watcher* find(int fd) {
    for (auto& watcher : watchers_) {
      if (watcher->descriptor.native_handle() == fd) {
        return watcher.get();
      }
    }
    return nullptr;
  }

  void watch(Watcher& watcher) {
    const int fd = watcher.descriptor.native_handle();
    if (watcher.want_read && !watcher.reading) {
      watcher.reading = true;
      watcher.descriptor.async_wait(
          asio::posix::stream_descriptor::wait_read,
          [this, alive = alive_, fd](const asio::error_code& ec) { ready(alive, ec, fd, true); });
    }
    if (watcher.want_write && !watcher.writing) {
      watcher.writing = true;
      watcher.descriptor.async_wait(
          asio::posix::stream_descriptor::wait_write,
          [this, alive = alive_, fd](const asio::error_code& ec) { ready(alive, ec, fd, false); });
    }
  }

  void ready(const std::shared_ptr<bool>& alive, const asio::error_code& ec, int fd, bool read) {
    if (ec == asio::error::operation_aborted || !*alive) {
      return;  // released: the watcher may be gone
    }
    if (Watcher* watcher = find(fd)) {
      (read ? watcher->reading : watcher->writing) = false;
    }
    ares_process_fd(channel_, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
    if (Watcher* watcher = find(fd)) {
      watch(*watcher);
    }
    armTimer();
  }

  void armTimer() {
    timeval next{};
    if (finished_ || ares_timeout(channel_, nullptr, &next) == nullptr) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(std::chrono::seconds(next.tv_sec) +
                         std::chrono::microseconds(next.tv_usec));
    timer_.async_wait([this, alive = alive_](const asio::error_code& ec) {
      if (ec || !*alive) {
        return;
      }
      ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      armTimer();
    });
  }

  asio::any_io_executor executor_;
  asio::steady_timer timer_;
  ares_channel channel_ = nullptr;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  /// False once the channel is being destroyed: handlers still queued on the loop skip it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::steady_timer* done_ = nullptr;
  bool finished_ = false;
  ExchangeResult result_;
};

}  // namespace

asio::awaitable<ExchangeResult> exchange(asio::any_io_executor executor,
                                         const ExchangeOptions& options,
                                         const std::vector<unsigned char>& query) {
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) {
    co_return ExchangeResult{library, {}};
  }
  Channel channel(executor);
  if (const int status = channel.init(options); status != ARES_SUCCESS) {
    co_return ExchangeResult{status, {}};
  }
  co_return co_await channel.send(query);
}

}  // namespace vigie::probes::dns
