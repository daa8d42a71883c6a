// SPDX-License-Identifier: Apache-2.0
#include "dns/ares_exchange.h"

#include <ares.h>
#include <poll.h>

#include <algorithm>
#include <asio/execution_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <unordered_map>
#include <utility>

#include "util/no_throw.h"

namespace vigie::probes::dns {
namespace {

/// One query's way back to its coroutine. Shared with c-ares's callback, so a query the
/// coroutine gave up on (cancelled) can still complete into it.
struct Pending {
  explicit Pending(const asio::any_io_executor& executor)
      : done(executor, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;  ///< cancelled when the answer (or the error) is in
  bool finished = false;
  ExchangeResult result;
};

/// A c-ares channel whose sockets and timeouts are driven by the Asio loop.
class Channel {
 public:
  explicit Channel(asio::any_io_executor executor)
      : executor_(std::move(executor)), timer_(executor_) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  ~Channel() {
    *alive_ = false;
    if (channel_ != nullptr) {
      // Completes the queries still pending (ARES_EDESTRUCTION) and calls back for each socket
      // it closes, whose descriptor is then released from the loop.
      ares_destroy(channel_);
    }
  }

  /// `stay_open`: keep the sockets between queries (a channel shared by many probes).
  int init(const ExchangeOptions& options, bool stay_open) {
    ares_options settings{};
    int mask = ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    // NOCHECKRESP: SERVFAIL, REFUSED and NOTIMP are answers to report, not reasons to retry.
    settings.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH |
                     (options.tcp_only ? ARES_FLAG_USEVC : 0) |
                     (stay_open ? ARES_FLAG_STAYOPEN : 0);
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

  void send(const std::vector<unsigned char>& query, const std::shared_ptr<Pending>& pending) {
    ++active_;
    ares_send(channel_, query.data(), static_cast<int>(query.size()), &Channel::onAnswer,
              new Query{pending, this, alive_});
    // A kept socket gets no new socket-state call: its watch starts again here.
    for (auto& watcher : watchers_) {
      watch(*watcher);
    }
    armTimer();
  }

  /// Cancels every query of the channel: only for a channel of one query.
  void cancelAll() { ares_cancel(channel_); }

 private:
  /// What c-ares hands back to onAnswer.
  struct Query {
    std::shared_ptr<Pending> pending;
    Channel* channel;
    std::shared_ptr<bool> alive;
  };

  struct Watcher {
    Watcher(const asio::any_io_executor& executor, int fd, std::uint64_t number)
        : descriptor(executor, fd), serial(number) {}
    asio::posix::stream_descriptor descriptor;
    /// Tells this socket's handlers from those of an earlier socket with the same number.
    std::uint64_t serial;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;
    bool writing = false;
  };

  static void onAnswer(void* arg, int status, int, unsigned char* answer, int length) {
    const std::unique_ptr<Query> query(static_cast<Query*>(arg));
    if (*query->alive && --query->channel->active_ == 0) {
      query->channel->sleep();
    }
    Pending& pending = *query->pending;
    if (pending.finished) {
      return;
    }
    pending.finished = true;
    pending.result.status = status;
    if (answer != nullptr && length > 0) {
      pending.result.answer.assign(answer, answer + length);
    }
    pending.done.cancel();
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
      self->watchers_.push_back(std::make_unique<Watcher>(self->executor_, fd, ++self->serials_));
      found = std::prev(self->watchers_.end());
    }
    (*found)->want_read = readable != 0;
    (*found)->want_write = writable != 0;
    self->watch(**found);
  }

  Watcher* find(int fd, std::uint64_t serial) {
    for (auto& watcher : watchers_) {
      if (watcher->descriptor.native_handle() == fd && watcher->serial == serial) {
        return watcher.get();
      }
    }
    return nullptr;
  }

  /// Nothing waits while no query is in flight, so an idle channel (kept open) does not keep
  /// the io_context busy: `--probe` returns as soon as its run is done.
  void sleep() {
    for (auto& watcher : watchers_) {
      asio::error_code ignored;
      watcher->descriptor.cancel(ignored);
    }
    timer_.cancel();
    timer_armed_ = false;
  }

  void watch(Watcher& watcher) {
    if (active_ == 0) {
      return;
    }
    const int fd = watcher.descriptor.native_handle();
    const std::uint64_t serial = watcher.serial;
    if (watcher.want_read && !watcher.reading) {
      watcher.reading = true;
      watcher.descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                    [this, alive = alive_, fd, serial](const asio::error_code& ec) {
                                      ready(alive, ec, fd, serial, true);
                                    });
    }
    if (watcher.want_write && !watcher.writing) {
      watcher.writing = true;
      watcher.descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                                    [this, alive = alive_, fd, serial](const asio::error_code& ec) {
                                      ready(alive, ec, fd, serial, false);
                                    });
    }
  }

  void ready(const std::shared_ptr<bool>& alive, const asio::error_code& ec, int fd,
             std::uint64_t serial, bool read) {
    if (!*alive) {
      return;
    }
    Watcher* watcher = find(fd, serial);
    if (watcher != nullptr) {
      (read ? watcher->reading : watcher->writing) = false;
    }
    if (ec == asio::error::operation_aborted || watcher == nullptr) {
      return;  // put to sleep, or released
    }
    ares_process_fd(channel_, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
    watcher = find(fd, serial);
    if (watcher == nullptr) {
      armTimer();
      return;
    }
    // The loop's epoll is edge-triggered and c-ares may leave bytes unread (a TCP answer's
    // length is read first, its body by the next call): no new edge comes for them.
    pollfd unread{fd, POLLIN, 0};
    if (read && active_ > 0 && ::poll(&unread, 1, 0) > 0) {
      watcher->reading = true;  // the posted call stands for the wait
      asio::post(executor_,
                 [this, alive = alive_, fd, serial] { ready(alive, {}, fd, serial, true); });
      return;
    }
    watch(*watcher);
    armTimer();
  }

  void armTimer() {
    timeval next{};
    if (active_ == 0 || ares_timeout(channel_, nullptr, &next) == nullptr) {
      return;  // no query left: a timer still armed fires once for nothing
    }
    const auto expiry = std::chrono::steady_clock::now() + std::chrono::seconds(next.tv_sec) +
                        std::chrono::microseconds(next.tv_usec);
    // An armed timer that fires sooner is kept: waking early costs one idle ares_process_fd,
    // re-arming costs a timerfd update for every query of a busy shared channel.
    if (timer_armed_ && timer_.expiry() <= expiry) {
      return;
    }
    timer_armed_ = true;
    timer_.expires_at(expiry);
    timer_.async_wait([this, alive = alive_](const asio::error_code& ec) {
      if (ec || !*alive) {
        return;  // replaced or cancelled: whoever did it keeps timer_armed_ right
      }
      timer_armed_ = false;
      ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      armTimer();
    });
  }

  asio::any_io_executor executor_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  /// Queries c-ares has not completed yet (a cancelled probe's included).
  std::size_t active_ = 0;
  std::uint64_t serials_ = 0;
  ares_channel channel_ = nullptr;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  /// False once the channel is being destroyed: handlers still queued on the loop skip it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// The channels shared by every UDP query to one server, one per io_context: a query then costs
/// a datagram each way on a socket kept open, not a channel, a socket and a connect. TCP queries
/// and the system resolver get a channel per query (a fresh connection each time, as blackbox
/// does, and /etc/resolv.conf read again).
class SharedChannels : public asio::execution_context::service {
 public:
  using key_type = SharedChannels;
  static inline asio::execution_context::id id;

  explicit SharedChannels(asio::execution_context& context)
      : asio::execution_context::service(context) {}

  /// The channel for `options`, made on first use; nullptr with `status` set when c-ares
  /// cannot make it.
  Channel* get(const asio::any_io_executor& executor, const ExchangeOptions& options, int& status) {
    const std::string name = options.servers + "/" + std::to_string(options.timeout.count());
    auto found = channels_.find(name);
    if (found != channels_.end()) {
      return found->second.get();
    }
    auto channel = std::make_unique<Channel>(executor);
    status = channel->init(options, true);
    if (status != ARES_SUCCESS) {
      return nullptr;
    }
    return channels_.emplace(name, std::move(channel)).first->second.get();
  }

 private:
  void shutdown() override { channels_.clear(); }

  std::unordered_map<std::string, std::unique_ptr<Channel>> channels_;
};

}  // namespace

asio::awaitable<ExchangeResult> exchange(asio::any_io_executor executor,
                                         const ExchangeOptions& options,
                                         const std::vector<unsigned char>& query) {
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) {
    co_return ExchangeResult{library, {}};
  }
  auto pending = std::make_shared<Pending>(executor);
  if (!options.servers.empty() && !options.tcp_only) {
    // Channels are kept per timeout too (c-ares's is per channel), in whole seconds so the few
    // milliseconds a run starts late do not make a new one.
    ExchangeOptions shared = options;
    shared.timeout = std::chrono::seconds((options.timeout.count() + 999) / 1000);
    int status = ARES_SUCCESS;
    Channel* channel =
        asio::use_service<SharedChannels>(asio::query(executor, asio::execution::context))
            .get(executor, shared, status);
    if (channel == nullptr) {
      co_return ExchangeResult{status, {}};
    }
    channel->send(query, pending);
    if (!pending->finished) {
      co_await pending->done.async_wait(kNoThrow);
    }
    if (!pending->finished) {
      // Cancelled: other probes' queries share the channel, so this one is left to complete
      // (or time out) into a Pending nobody waits for.
      co_return ExchangeResult{ARES_ECANCELLED, {}};
    }
    co_return std::move(pending->result);
  }
  Channel channel(executor);
  if (const int status = channel.init(options, false); status != ARES_SUCCESS) {
    co_return ExchangeResult{status, {}};
  }
  channel.send(query, pending);
  if (!pending->finished) {
    co_await pending->done.async_wait(kNoThrow);
  }
  if (!pending->finished) {
    channel.cancelAll();  // the callback runs from within, with ARES_ECANCELLED
  }
  co_return std::move(pending->result);
}

}  // namespace vigie::probes::dns
