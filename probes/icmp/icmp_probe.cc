// SPDX-License-Identifier: Apache-2.0
#include "icmp/icmp_probe.h"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>

#include "util/no_throw.h"
#include "util/timing.h"

namespace vigie::probes {
namespace {

using Clock = std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;

constexpr std::uint8_t kEchoRequest4 = 8;
constexpr std::uint8_t kEchoReply4 = 0;
constexpr std::uint8_t kUnreachable4 = 3;
constexpr std::uint8_t kEchoRequest6 = 128;
constexpr std::uint8_t kEchoReply6 = 129;
constexpr std::uint8_t kUnreachable6 = 1;
constexpr std::size_t kIcmpHeader = 8;

const FamilyHandle& icmpDuration() {
  static const FamilyHandle family =
      declareFamily("probe_icmp_duration_seconds", "Duration of icmp request by phase");
  return family;
}
const FamilyHandle& replyHopLimit() {
  static const FamilyHandle family =
      declareFamily("probe_icmp_reply_hop_limit", "Replied packet hop limit (TTL for ipv4)");
  return family;
}
const FamilyHandle& packetsSent() {
  static const FamilyHandle family =
      declareFamily("probe_icmp_packets_sent", "Echo requests sent in the run");
  return family;
}
const FamilyHandle& packetsReceived() {
  static const FamilyHandle family =
      declareFamily("probe_icmp_packets_received", "Echo replies received in the run");
  return family;
}
const FamilyHandle& packetLoss() {
  static const FamilyHandle family = declareFamily(
      "probe_icmp_packet_loss_ratio", "Share of the run's echo requests left without reply (0-1)");
  return family;
}
const FamilyHandle& rttSeconds() {
  static const FamilyHandle family =
      declareFamily("probe_icmp_rtt_seconds",
                    "Round-trip time of the run's replies by statistic (min, avg, max, "
                    "stddev)");
  return family;
}

struct Settings {
  std::string host;
  bool prefer_ip6 = true;
  bool fallback = true;
  int packets = 3;
  std::chrono::milliseconds interval{100};
  std::size_t payload_size = 56;
  bool dont_fragment = false;
  std::optional<int> ttl;
  int min_replies = 1;
};

std::uint16_t checksum(const unsigned char* data, std::size_t size) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    sum += static_cast<std::uint32_t>((data[i] << 8) | data[i + 1]);
  }
  if (size % 2 != 0) {
    sum += static_cast<std::uint32_t>(data[size - 1] << 8);
  }
  while ((sum >> 16) != 0) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum);
}

/// The echo socket of one run. Datagram ("ping") sockets need no privilege when the process's
/// group is inside net.ipv4.ping_group_range (RHEL and systemd set it to every group); the kernel
/// then picks the identifier and hands this socket only its own replies. Raw sockets need
/// CAP_NET_RAW and see every ICMP packet, so replies are matched by identifier here.
struct EchoSocket {
  std::optional<asio::posix::stream_descriptor> descriptor;
  bool raw = false;
  std::string error;

  static EchoSocket open(const asio::any_io_executor& executor, bool ip6) {
    EchoSocket result;
    const int family = ip6 ? AF_INET6 : AF_INET;
    const int protocol = ip6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
    int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0 && (errno == EACCES || errno == EPERM)) {
      const int datagram_errno = errno;
      fd = ::socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
      if (fd < 0) {
        result.error = std::string("cannot open an ICMP socket: datagram: ") +
                       std::strerror(datagram_errno) +
                       " (the agent's group is outside net.ipv4.ping_group_range), raw: " +
                       std::strerror(errno) + " (no CAP_NET_RAW)";
        return result;
      }
      result.raw = true;
    } else if (fd < 0) {
      result.error = std::string("cannot open an ICMP socket: ") + std::strerror(errno);
      return result;
    }
    result.descriptor.emplace(executor, fd);
    return result;
  }
};

struct Reply {
  std::uint16_t sequence = 0;
  std::optional<int> hop_limit;
};

class IcmpProbe final : public Probe {
 public:
  explicit IcmpProbe(Settings settings) : settings_(std::move(settings)) {}

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    const auto started = Clock::now();
    std::vector<Sample> samples;
    std::vector<std::string> details;
    auto fail = [&](std::string reason, std::string message) {
      ProbeResult result = ProbeResult::critical(std::move(reason), std::move(message));
      result.samples = std::move(samples);
      result.details = std::move(details);
      return result;
    };

    ctx.phase = "resolve";
    asio::ip::address address;
    asio::error_code literal_ec;
    address = asio::ip::make_address(settings_.host, literal_ec);
    if (literal_ec) {
      asio::ip::udp::resolver resolver(ctx.executor);
      auto [ec, results] = co_await resolver.async_resolve(settings_.host, "", kNoThrow);
      if (ec) {
        co_return fail("dns", "cannot resolve " + settings_.host + ": " + ec.message());
      }
      std::optional<asio::ip::address> preferred;
      std::optional<asio::ip::address> other;
      for (const auto& entry : results) {
        auto& slot = entry.endpoint().address().is_v6() == settings_.prefer_ip6 ? preferred : other;
        if (!slot) {
          slot = entry.endpoint().address();
        }
      }
      if (!preferred && (!settings_.fallback || !other)) {
        co_return fail("dns", "no " + std::string(settings_.prefer_ip6 ? "IPv6" : "IPv4") +
                                  " address for " + settings_.host);
      }
      address = preferred ? *preferred : *other;
    }
    const double resolve_seconds = secondsSince(started);
    samples.push_back({families::dnsLookupTime(), resolve_seconds});
    samples.push_back({icmpDuration(), resolve_seconds, {{"phase", "resolve"}}});
    const bool ip6 = address.is_v6();
    samples.push_back({families::ipProtocol(), ip6 ? 6.0 : 4.0});

    ctx.phase = "setup";
    const auto setup_started = Clock::now();
    EchoSocket socket = EchoSocket::open(ctx.executor, ip6);
    if (!socket.descriptor) {
      co_return fail("socket", socket.error);
    }
    const int fd = socket.descriptor->native_handle();
    configure(fd, ip6);
    samples.push_back({icmpDuration(), secondsSince(setup_started), {{"phase", "setup"}}});

    ctx.phase = "rtt";
    sockaddr_storage target{};
    socklen_t target_length = 0;
    if (ip6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&target);
      sin6->sin6_family = AF_INET6;
      const auto bytes = address.to_v6().to_bytes();
      std::memcpy(&sin6->sin6_addr, bytes.data(), bytes.size());
      sin6->sin6_scope_id = address.to_v6().scope_id();
      target_length = sizeof(sockaddr_in6);
    } else {
      auto* sin = reinterpret_cast<sockaddr_in*>(&target);
      sin->sin_family = AF_INET;
      const auto bytes = address.to_v4().to_bytes();
      std::memcpy(&sin->sin_addr, bytes.data(), bytes.size());
      target_length = sizeof(sockaddr_in);
    }
    const auto identifier = static_cast<std::uint16_t>(random_());
    const auto first_sequence = static_cast<std::uint16_t>(random_());
    std::vector<unsigned char> packet(kIcmpHeader + settings_.payload_size);
    for (std::size_t i = kIcmpHeader; i < packet.size(); ++i) {
      packet[i] = static_cast<unsigned char>(i);
    }
    packet[0] = ip6 ? kEchoRequest6 : kEchoRequest4;
    packet[4] = static_cast<unsigned char>(identifier >> 8);
    packet[5] = static_cast<unsigned char>(identifier & 0xff);

    const auto packets = static_cast<std::size_t>(settings_.packets);
    std::vector<Clock::time_point> sent_at;
    std::vector<double> rtts(packets, -1);
    std::optional<int> hop_limit;
    std::string unreachable;
    std::size_t received = 0;
    // Stop waiting a little before the deadline, so a lost packet is reported as loss with the
    // figures rather than as the runner's bare timeout.
    const auto budget = ctx.deadline - Clock::now();
    const auto stop_at =
        ctx.deadline - std::min<Clock::duration>(budget / 10, std::chrono::milliseconds(100));
    auto next_send = Clock::now();
    asio::steady_timer timer(ctx.executor);
    while (true) {
      const auto now = Clock::now();
      if (sent_at.size() < packets && now >= next_send) {
        const auto sequence = static_cast<std::uint16_t>(first_sequence + sent_at.size());
        packet[6] = static_cast<unsigned char>(sequence >> 8);
        packet[7] = static_cast<unsigned char>(sequence & 0xff);
        packet[2] = packet[3] = 0;
        if (!ip6) {  // ICMPv6's checksum covers a pseudo-header: the kernel computes it
          const std::uint16_t sum = checksum(packet.data(), packet.size());
          packet[2] = static_cast<unsigned char>(sum >> 8);
          packet[3] = static_cast<unsigned char>(sum & 0xff);
        }
        sent_at.push_back(Clock::now());
        if (::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&target),
                     target_length) < 0) {
          const int error = errno;
          if (error == EHOSTUNREACH || error == ENETUNREACH) {
            co_return fail("unreachable",
                           "cannot reach " + address.to_string() + ": " + std::strerror(error));
          }
          co_return fail("send",
                         "cannot send to " + address.to_string() + ": " + std::strerror(error));
        }
        next_send += settings_.interval;
        continue;
      }
      receive(fd, socket.raw, ip6, identifier, first_sequence, sent_at, rtts, received, hop_limit,
              unreachable);
      if ((received == packets) || !unreachable.empty() || now >= stop_at) {
        break;
      }
      timer.expires_at(sent_at.size() < packets ? std::min(next_send, stop_at) : stop_at);
      co_await (
          socket.descriptor->async_wait(asio::posix::stream_descriptor::wait_read, kNoThrow) ||
          timer.async_wait(kNoThrow));
      // Cancelled (deadline, shutdown): the runner reports it, the loop only has to stop.
      if ((co_await asio::this_coro::cancellation_state).cancelled() !=
          asio::cancellation_type::none) {
        co_return fail("timeout", "cancelled while waiting for replies");
      }
    }

    const std::string where = settings_.host == address.to_string()
                                  ? address.to_string()
                                  : settings_.host + " (" + address.to_string() + ")";
    samples.push_back({packetsSent(), static_cast<double>(sent_at.size())});
    samples.push_back({packetsReceived(), static_cast<double>(received)});
    const double loss =
        sent_at.empty() ? 1.0
                        : 1.0 - static_cast<double>(received) / static_cast<double>(sent_at.size());
    samples.push_back({packetLoss(), loss});
    std::string figures = std::to_string(received) + "/" + std::to_string(sent_at.size()) +
                          " replies (" + std::to_string(static_cast<int>(std::lround(loss * 100))) +
                          "% loss)";
    if (received > 0) {
      double sum = 0;
      double min = 1e9;
      double max = 0;
      for (const double rtt : rtts) {
        if (rtt >= 0) {
          sum += rtt;
          min = std::min(min, rtt);
          max = std::max(max, rtt);
        }
      }
      const double avg = sum / static_cast<double>(received);
      double variance = 0;
      for (const double rtt : rtts) {
        if (rtt >= 0) {
          variance += (rtt - avg) * (rtt - avg);
        }
      }
      const double stddev = std::sqrt(variance / static_cast<double>(received));
      samples.push_back({icmpDuration(), avg, {{"phase", "rtt"}}});
      samples.push_back({rttSeconds(), min, {{"stat", "min"}}});
      samples.push_back({rttSeconds(), avg, {{"stat", "avg"}}});
      samples.push_back({rttSeconds(), max, {{"stat", "max"}}});
      samples.push_back({rttSeconds(), stddev, {{"stat", "stddev"}}});
      if (hop_limit) {
        samples.push_back({replyHopLimit(), static_cast<double>(*hop_limit)});
      }
      figures += ", rtt min/avg/max " + milliseconds(min) + "/" + milliseconds(avg) + "/" +
                 milliseconds(max);
    }
    details.push_back(std::string(socket.raw ? "raw" : "datagram") + " ICMP" + (ip6 ? "v6" : "") +
                      " socket, " + std::to_string(settings_.payload_size) + " bytes of payload" +
                      (settings_.ttl ? ", ttl " + std::to_string(*settings_.ttl) : "") +
                      (settings_.dont_fragment ? ", don't fragment" : ""));
    if (!unreachable.empty()) {
      co_return fail("unreachable", where + ": " + unreachable + "; " + figures);
    }
    if (static_cast<int>(received) < settings_.min_replies) {
      co_return fail("loss", where + ": " + figures + ", at least " +
                                 std::to_string(settings_.min_replies) + " needed");
    }
    ProbeResult ok = ProbeResult::ok(where + ": " + figures);
    ok.samples = std::move(samples);
    ok.details = std::move(details);
    co_return ok;
  }

 private:
  void configure(int fd, bool ip6) const {
    const int on = 1;
    if (ip6) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
      if (settings_.ttl) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &*settings_.ttl, sizeof(int));
      }
      if (settings_.dont_fragment) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof on);
      }
    } else {
      setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof on);
      setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
      if (settings_.ttl) {
        setsockopt(fd, IPPROTO_IP, IP_TTL, &*settings_.ttl, sizeof(int));
      }
      if (settings_.dont_fragment) {
        const int mode = IP_PMTUDISC_DO;
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode);
      }
    }
  }

  /// Reads every datagram waiting; counts the replies to this run's requests.
  static void receive(int fd, bool raw, bool ip6, std::uint16_t identifier,
                      std::uint16_t first_sequence, const std::vector<Clock::time_point>& sent_at,
                      std::vector<double>& rtts, std::size_t& received,
                      std::optional<int>& hop_limit, std::string& unreachable) {
    unsigned char buffer[2048];
    alignas(cmsghdr) unsigned char control[256];
    while (true) {
      iovec io{buffer, sizeof buffer};
      msghdr message{};
      message.msg_iov = &io;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      const ssize_t length = ::recvmsg(fd, &message, 0);
      const auto now = Clock::now();
      if (length < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          return;
        }
        // An ICMP error about our requests (IP_RECVERR): a router or the host said no.
        unreachable = std::strerror(errno);
        drainErrors(fd);
        continue;
      }
      std::size_t offset = 0;
      std::optional<int> ttl;
      if (raw && !ip6) {  // a raw IPv4 socket gets the IP header too
        if (length < 20) {
          continue;
        }
        offset = static_cast<std::size_t>(buffer[0] & 0x0f) * 4;
        ttl = buffer[8];
      }
      for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
          int value = 0;
          std::memcpy(&value, CMSG_DATA(c), sizeof value);
          ttl = value;
        }
      }
      if (static_cast<std::size_t>(length) < offset + kIcmpHeader) {
        continue;
      }
      const unsigned char* icmp = buffer + offset;
      const std::uint8_t type = icmp[0];
      if (raw && type == (ip6 ? kUnreachable6 : kUnreachable4)) {
        // The error quotes our request: its IP header (IPv4), then our ICMP header.
        const std::size_t quoted_ip = ip6 ? 40 : static_cast<std::size_t>(icmp[8] & 0x0f) * 4;
        const std::size_t at = offset + kIcmpHeader + quoted_ip;
        if (static_cast<std::size_t>(length) >= at + kIcmpHeader &&
            ((buffer[at + 4] << 8) | buffer[at + 5]) == identifier) {
          unreachable = "destination unreachable (ICMP code " + std::to_string(icmp[1]) + ")";
        }
        continue;
      }
      if (type != (ip6 ? kEchoReply6 : kEchoReply4)) {
        continue;  // a raw socket also sees requests and everybody else's traffic
      }
      if (raw && ((icmp[4] << 8) | icmp[5]) != identifier) {
        continue;
      }
      const auto index = static_cast<std::uint16_t>(((icmp[6] << 8) | icmp[7]) - first_sequence);
      if (index >= sent_at.size() || rtts[index] >= 0) {
        continue;  // not ours, or a duplicate
      }
      rtts[index] = std::chrono::duration<double>(now - sent_at[index]).count();
      ++received;
      if (ttl) {
        hop_limit = ttl;
      }
    }
  }

  static void drainErrors(int fd) {
    unsigned char buffer[512];
    alignas(cmsghdr) unsigned char control[512];
    while (true) {
      iovec io{buffer, sizeof buffer};
      msghdr message{};
      message.msg_iov = &io;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      if (::recvmsg(fd, &message, MSG_ERRQUEUE) < 0) {
        return;
      }
    }
  }

  Settings settings_;
  std::minstd_rand random_{std::random_device{}()};
};

class IcmpProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "icmp"; }

  const Families& families() const override {
    static const Families declared{families::dnsLookupTime(),
                                   families::ipProtocol(),
                                   icmpDuration(),
                                   replyHopLimit(),
                                   packetsSent(),
                                   packetsReceived(),
                                   packetLoss(),
                                   rttSeconds()};
    return declared;
  }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema{
        {"host", FieldType::String, true, {}, "Host name or IP address to ping"},
        {"ip_protocol",
         FieldType::String,
         false,
         "ip6",
         "Preferred address family when the host has both",
         {"ip4", "ip6"}},
        {"ip_protocol_fallback", FieldType::Bool, false, "true",
         "Use the other family when the preferred one has no address"},
        {"packets", FieldType::Int, false, "3", "Echo requests per run (1-100)"},
        {"packet_interval", FieldType::Duration, false, "100ms", "Time between two requests"},
        {"min_replies", FieldType::Int, false, "1",
         "Replies needed for success; packets fails on any loss"},
        {"payload_size", FieldType::Int, false, "56", "Bytes of payload per request (0-65000)"},
        {"dont_fragment", FieldType::Bool, false, "false",
         "Set the DF bit (IPv4) / do not fragment locally (IPv6): a request larger than the "
         "path's MTU then fails"},
        {"ttl", FieldType::Int, false, {}, "TTL (IPv4) or hop limit (IPv6) of the requests"},
    };
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    Settings settings;
    settings.host = config.getString("host");
    if (settings.host.empty()) {
      config.fail("host", "must not be empty");
    }
    settings.prefer_ip6 = config.getString("ip_protocol") == "ip6";
    settings.fallback = config.getBool("ip_protocol_fallback");
    const std::int64_t packets = config.getInt("packets");
    if (packets < 1 || packets > 100) {
      config.fail("packets", "must be between 1 and 100");
    }
    settings.packets = static_cast<int>(packets);
    settings.interval = config.getDuration("packet_interval");
    if (settings.interval < std::chrono::milliseconds(1)) {
      config.fail("packet_interval", "must be at least 1ms");
    }
    const std::int64_t min_replies = config.getInt("min_replies");
    if (min_replies < 1 || min_replies > packets) {
      config.fail("min_replies", "must be between 1 and packets (" + std::to_string(packets) + ")");
    }
    settings.min_replies = static_cast<int>(min_replies);
    const std::int64_t payload = config.getInt("payload_size");
    if (payload < 0 || payload > 65000) {
      config.fail("payload_size", "must be between 0 and 65000");
    }
    settings.payload_size = static_cast<std::size_t>(payload);
    settings.dont_fragment = config.getBool("dont_fragment");
    if (config.has("ttl")) {
      const std::int64_t ttl = config.getInt("ttl");
      if (ttl < 1 || ttl > 255) {
        config.fail("ttl", "must be between 1 and 255");
      }
      settings.ttl = static_cast<int>(ttl);
    }
    return std::make_unique<IcmpProbe>(std::move(settings));
  }
};

}  // namespace

ProbeFactoryPtr makeIcmpProbeFactory() { return std::make_unique<IcmpProbeFactory>(); }

}  // namespace vigie::probes
