// SPDX-License-Identifier: Apache-2.0
// The floor of bench/steady_bench.py: what a fresh-connection HTTP check costs on this machine
// with nothing but the kernel. One thread, epoll, no library: TARGETS checks spread evenly over
// INTERVAL_MS, each a new non-blocking socket, connect, one GET, the answer read up to its
// Content-Length, close. It sleeps until the next check is due (millisecond resolution, as a
// probe loop would), so it pays the same wake-ups a one-probe-at-a-time loop pays. With
// WINDOW_MS, the checks due in one window of that length start together at its beginning, as
// vigie-agent batches them: the floor for an agent that shares wake-ups.
//
// Usage: steady_floor HOST PORT TARGETS INTERVAL_MS SECONDS WINDOW_MS COUNTERS
// COUNTERS is a file of at least 16 bytes where the cumulative counts of checks done and failed
// are kept (two native 64-bit integers, mapped in memory: reading them costs the floor nothing).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Check {
  int fd = -1;
  bool sent = false;
  std::size_t received = 0;
  char buffer[1024];
};

struct Stats {
  long done = 0;
  long failed = 0;
  volatile std::int64_t* published = nullptr;  ///< the COUNTERS file, mapped
  void publish() {
    published[0] = done;
    published[1] = failed;
  }
};

// The whole answer is in when the headers ended and Content-Length bytes followed them.
bool answerComplete(const Check& check) {
  const std::string_view text(check.buffer, check.received);
  const auto end = text.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return false;
  }
  const auto header = text.find("Content-Length:");
  if (header == std::string_view::npos || header > end) {
    return false;
  }
  const long length = std::strtol(check.buffer + header + 15, nullptr, 10);
  return text.size() >= end + 4 + static_cast<std::size_t>(length);
}

void finish(Check& check, Stats& stats, bool ok) {
  close(check.fd);  // also leaves the epoll set
  check.fd = -1;
  ++(ok ? stats.done : stats.failed);
  stats.publish();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s HOST PORT TARGETS INTERVAL_MS SECONDS WINDOW_MS COUNTERS\n",
                 argv[0]);
    return 2;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) {
    std::fprintf(stderr, "bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  const long targets = std::atol(argv[3]);
  const auto interval = std::chrono::milliseconds(std::atol(argv[4]));
  const auto run_for = std::chrono::seconds(std::atol(argv[5]));
  const auto window = std::chrono::milliseconds(std::atol(argv[6]));
  const int counters_fd = open(argv[7], O_RDWR | O_CLOEXEC);
  void* counters = counters_fd < 0
                       ? MAP_FAILED
                       : mmap(nullptr, 16, PROT_READ | PROT_WRITE, MAP_SHARED, counters_fd, 0);
  if (counters == MAP_FAILED) {
    std::fprintf(stderr, "cannot map %s\n", argv[7]);
    return 2;
  }

  std::vector<std::string> requests;
  for (long i = 0; i < targets; ++i) {
    requests.push_back("GET /t/" + std::to_string(i) + " HTTP/1.1\r\nHost: " + argv[1] + ":" +
                       argv[2] + "\r\nUser-Agent: steady-floor\r\nAccept: */*\r\n\r\n");
  }
  std::vector<Check> checks(static_cast<std::size_t>(targets));
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  Stats stats;
  stats.published = static_cast<volatile std::int64_t*>(counters);
  const auto start = Clock::now();
  auto next_report = start + std::chrono::seconds(1);
  long next_target = 0;  // the next check to start, counted over all rounds
  // When check n starts: the beginning of the window its due time falls in.
  auto startOf = [&](long n) {
    const auto due = interval * (n / targets) + interval * (n % targets) / targets;
    return start + due - due % window;
  };

  epoll_event events[256];
  for (;;) {
    const auto now = Clock::now();
    if (now >= next_report) {
      next_report += std::chrono::seconds(1);
      if (now - start >= run_for) {
        std::printf("done %ld failed %ld\n", stats.done, stats.failed);
        return 0;
      }
    }
    while (startOf(next_target) <= now) {
      Check& check = checks[static_cast<std::size_t>(next_target % targets)];
      ++next_target;
      if (check.fd >= 0) {
        finish(check, stats, false);  // still running one interval later
      }
      check.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      check.sent = false;
      check.received = 0;
      if (check.fd < 0) {
        ++stats.failed;
        stats.publish();
        continue;
      }
      if (connect(check.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
          errno != EINPROGRESS) {
        finish(check, stats, false);
        continue;
      }
      epoll_event wanted{};
      wanted.events = EPOLLIN | EPOLLOUT | EPOLLET;
      wanted.data.ptr = &check;
      epoll_ctl(epoll, EPOLL_CTL_ADD, check.fd, &wanted);
    }
    const auto until = std::min(startOf(next_target), next_report) - Clock::now();
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(until).count();
    const int ready = epoll_wait(epoll, events, 256, static_cast<int>(std::max<long>(0, wait_ms)));
    for (int i = 0; i < ready; ++i) {
      Check& check = *static_cast<Check*>(events[i].data.ptr);
      if (check.fd < 0) {
        continue;
      }
      if ((events[i].events & (EPOLLERR | EPOLLHUP)) != 0 && !check.sent) {
        finish(check, stats, false);
        continue;
      }
      if (!check.sent && (events[i].events & EPOLLOUT) != 0) {
        const std::string& request = requests[static_cast<std::size_t>(&check - checks.data())];
        if (write(check.fd, request.data(), request.size()) !=
            static_cast<ssize_t>(request.size())) {
          finish(check, stats, false);
          continue;
        }
        check.sent = true;
      }
      if (check.sent && (events[i].events & EPOLLIN) != 0) {
        for (;;) {
          const ssize_t got =
              read(check.fd, check.buffer + check.received, sizeof check.buffer - check.received);
          if (got > 0) {
            check.received += static_cast<std::size_t>(got);
            if (answerComplete(check)) {
              finish(check, stats, std::strncmp(check.buffer, "HTTP/1.1 200", 12) == 0);
              break;
            }
            if (check.received == sizeof check.buffer) {
              finish(check, stats, false);
              break;
            }
            continue;
          }
          if (got < 0 && errno == EAGAIN) {
            break;
          }
          finish(check, stats, false);  // closed or failed before the whole answer
          break;
        }
      }
    }
  }
}
