// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::probes::dns {

/// One resource record in the presentation form blackbox_exporter's regexes are written against
/// (miekg/dns's RR.String()): "example.org.\t300\tIN\tA\t192.0.2.1".
struct ResourceRecord {
  std::uint16_t type = 0;
  std::string text;
  /// The serial of a SOA record.
  std::optional<std::uint32_t> soa_serial;
};

/// The parts of an answer the probe checks.
struct Message {
  std::uint16_t rcode = 0;  ///< with the extended bits of an OPT record
  bool truncated = false;
  bool authenticated_data = false;  ///< the AD bit
  std::vector<ResourceRecord> answer;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;
};

/// Parses a DNS message; names are decompressed by c-ares (ares_expand_name). Nothing when the
/// message is malformed.
std::optional<Message> parseMessage(const unsigned char* data, std::size_t size);

/// "A" -> 1, "TYPE65" -> 65; nothing for an unknown name.
std::optional<std::uint16_t> typeFromName(std::string_view name);
std::string typeName(std::uint16_t type);
/// "IN" -> 1, "CH", "HS", "ANY", "CLASS3".
std::optional<std::uint16_t> classFromName(std::string_view name);
std::string className(std::uint16_t dns_class);
/// "NOERROR" -> 0, "NXDOMAIN" -> 3...
std::optional<std::uint16_t> rcodeFromName(std::string_view name);
std::string rcodeName(std::uint16_t rcode);

}  // namespace vigie::probes::dns
