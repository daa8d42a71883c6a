// SPDX-License-Identifier: Apache-2.0
#include "dns/dns_message.h"

#include <ares.h>
#include <arpa/inet.h>

#include <array>
#include <cstdio>
#include <memory>
#include <utility>

namespace vigie::probes::dns {
namespace {

constexpr std::array<std::pair<std::string_view, std::uint16_t>, 24> kTypes{{
    {"A", 1},       {"NS", 2},     {"CNAME", 5}, {"SOA", 6},    {"PTR", 12},   {"HINFO", 13},
    {"MX", 15},     {"TXT", 16},   {"AAAA", 28}, {"LOC", 29},   {"SRV", 33},   {"NAPTR", 35},
    {"DNAME", 39},  {"OPT", 41},   {"DS", 43},   {"SSHFP", 44}, {"RRSIG", 46}, {"NSEC", 47},
    {"DNSKEY", 48}, {"NSEC3", 50}, {"TLSA", 52}, {"SVCB", 64},  {"HTTPS", 65}, {"CAA", 257},
}};
constexpr std::array<std::pair<std::string_view, std::uint16_t>, 4> kClasses{{
    {"IN", 1},
    {"CH", 3},
    {"HS", 4},
    {"ANY", 255},
}};
constexpr std::array<std::string_view, 11> kRcodes{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                                   "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                                   "NXRRSET", "NOTAUTH", "NOTZONE"};

/// "TYPE65" / "CLASS3" / "RCODE12": the RFC 3597 spelling of a number without a mnemonic.
std::optional<std::uint16_t> numbered(std::string_view name, std::string_view prefix) {
  if (name.substr(0, prefix.size()) != prefix || name.size() == prefix.size() ||
      name.size() > prefix.size() + 5) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (const char c : name.substr(prefix.size())) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

std::uint16_t read16(const unsigned char* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t read32(const unsigned char* p) {
  return (static_cast<std::uint32_t>(read16(p)) << 16) | read16(p + 2);
}

/// Walks one message; each read checks the bounds first.
class Reader {
 public:
  Reader(const unsigned char* data, std::size_t size) : data_(data), size_(size) {}

  bool has(std::size_t n) const { return offset_ + n <= size_; }
  std::size_t offset() const { return offset_; }
  void seek(std::size_t offset) { offset_ = offset; }

  /// A possibly compressed name at `at`, with its trailing dot; sets `length` to its size there.
  std::optional<std::string> nameAt(std::size_t at, std::size_t& length) const {
    char* expanded = nullptr;
    long encoded_length = 0;
    if (at >= size_ || ares_expand_name(data_ + at, data_, static_cast<int>(size_), &expanded,
                                        &encoded_length) != ARES_SUCCESS) {
      return std::nullopt;
    }
    std::unique_ptr<char, decltype(&ares_free_string)> owned(expanded, &ares_free_string);
    length = static_cast<std::size_t>(encoded_length);
    std::string name(expanded);
    return name.empty() || name.back() != '.' ? name + "." : name;
  }
  std::optional<std::string> name() {
    std::size_t length = 0;
    auto result = nameAt(offset_, length);
    offset_ += length;
    return result;
  }
  std::uint16_t u16() {
    const auto value = read16(data_ + offset_);
    offset_ += 2;
    return value;
  }
  std::uint32_t u32() {
    const auto value = read32(data_ + offset_);
    offset_ += 4;
    return value;
  }
  const unsigned char* at(std::size_t offset) const { return data_ + offset; }

 private:
  const unsigned char* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
};

std::string quoted(const unsigned char* p, std::size_t n) {
  std::string out = "\"";
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c > 0x7e) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\%03u", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string generic(const unsigned char* p, std::size_t n) {
  std::string out = "\\# " + std::to_string(n);
  if (n > 0) {
    out += ' ';
  }
  char hex[3];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", p[i]);
    out += hex;
  }
  return out;
}

/// The record data in presentation form; nothing when it does not fit its length.
std::optional<std::string> rdataText(const Reader& reader, std::uint16_t type, std::size_t start,
                                     std::size_t length, std::optional<std::uint32_t>& serial) {
  const unsigned char* p = reader.at(start);
  std::size_t used = 0;
  auto nameAt = [&](std::size_t offset) -> std::optional<std::string> {
    std::size_t name_length = 0;
    auto name = reader.nameAt(start + offset, name_length);
    used = offset + name_length;
    if (used > length) {
      return std::nullopt;
    }
    return name;
  };
  switch (type) {
    case 1:
    case 28: {
      const std::size_t expected = type == 1 ? 4 : 16;
      if (length != expected) {
        return std::nullopt;
      }
      char text[INET6_ADDRSTRLEN];
      inet_ntop(type == 1 ? AF_INET : AF_INET6, p, text, sizeof text);
      return std::string(text);
    }
    case 2:
    case 5:
    case 12:
    case 39:
      return nameAt(0);
    case 15: {
      if (length < 3) {
        return std::nullopt;
      }
      auto exchange = nameAt(2);
      if (!exchange) {
        return std::nullopt;
      }
      return std::to_string(read16(p)) + " " + *exchange;
    }
    case 33: {
      if (length < 7) {
        return std::nullopt;
      }
      auto target = nameAt(6);
      if (!target) {
        return std::nullopt;
      }
      return std::to_string(read16(p)) + " " + std::to_string(read16(p + 2)) + " " +
             std::to_string(read16(p + 4)) + " " + *target;
    }
    case 6: {
      auto mname = nameAt(0);
      if (!mname) {
        return std::nullopt;
      }
      auto rname = nameAt(used);
      if (!rname || used + 20 > length) {
        return std::nullopt;
      }
      std::string text = *mname + " " + *rname;
      serial = read32(p + used);
      for (std::size_t i = 0; i < 5; ++i) {
        text += ' ';
        text += std::to_string(read32(p + used + 4 * i));
      }
      return text;
    }
    case 16: {
      std::string text;
      std::size_t offset = 0;
      while (offset < length) {
        const std::size_t n = p[offset];
        if (offset + 1 + n > length) {
          return std::nullopt;
        }
        if (!text.empty()) {
          text += ' ';
        }
        text += quoted(p + offset + 1, n);
        offset += 1 + n;
      }
      return text;
    }
    case 257: {
      if (length < 2 || 2u + p[1] > length) {
        return std::nullopt;
      }
      const std::size_t tag_length = p[1];
      return std::to_string(p[0]) + " " +
             std::string(reinterpret_cast<const char*>(p + 2), tag_length) + " " +
             quoted(p + 2 + tag_length, length - 2 - tag_length);
    }
    default:
      return generic(p, length);
  }
}

bool readRecords(Reader& reader, std::size_t count, std::vector<ResourceRecord>& out,
                 std::optional<std::uint16_t>& extended_rcode_bits) {
  for (std::size_t i = 0; i < count; ++i) {
    auto owner = reader.name();
    if (!owner || !reader.has(10)) {
      return false;
    }
    ResourceRecord record;
    record.type = reader.u16();
    const std::uint16_t dns_class = reader.u16();
    const std::uint32_t ttl = reader.u32();
    const std::size_t length = reader.u16();
    if (!reader.has(length)) {
      return false;
    }
    const std::size_t start = reader.offset();
    if (record.type == 41) {  // OPT: its TTL carries the upper 8 bits of the rcode
      extended_rcode_bits = static_cast<std::uint16_t>(ttl >> 24);
      record.text = *owner + "\t0\tCLASS" + std::to_string(dns_class) + "\tOPT\t" +
                    generic(reader.at(start), length);
    } else {
      auto data = rdataText(reader, record.type, start, length, record.soa_serial);
      if (!data) {
        return false;
      }
      record.text = *owner + "\t" + std::to_string(ttl) + "\t" + className(dns_class) + "\t" +
                    typeName(record.type) + "\t" + *data;
    }
    reader.seek(start + length);
    out.push_back(std::move(record));
  }
  return true;
}

}  // namespace

std::optional<Message> parseMessage(const unsigned char* data, std::size_t size) {
  Reader reader(data, size);
  if (!reader.has(12)) {
    return std::nullopt;
  }
  reader.u16();  // id: c-ares already matched it to the query
  const std::uint16_t flags = reader.u16();
  const std::size_t questions = reader.u16();
  const std::size_t answers = reader.u16();
  const std::size_t authorities = reader.u16();
  const std::size_t additionals = reader.u16();
  Message message;
  message.truncated = (flags & 0x0200) != 0;
  message.authenticated_data = (flags & 0x0020) != 0;
  for (std::size_t i = 0; i < questions; ++i) {
    if (!reader.name() || !reader.has(4)) {
      return std::nullopt;
    }
    reader.seek(reader.offset() + 4);
  }
  std::optional<std::uint16_t> extended;
  if (!readRecords(reader, answers, message.answer, extended) ||
      !readRecords(reader, authorities, message.authority, extended) ||
      !readRecords(reader, additionals, message.additional, extended)) {
    return std::nullopt;
  }
  message.rcode = static_cast<std::uint16_t>((flags & 0x000f) | (extended.value_or(0) << 4));
  return message;
}

std::optional<std::uint16_t> typeFromName(std::string_view name) {
  for (const auto& [mnemonic, value] : kTypes) {
    if (mnemonic == name) {
      return value;
    }
  }
  if (name == "ANY") {
    return 255;
  }
  return numbered(name, "TYPE");
}

std::string typeName(std::uint16_t type) {
  for (const auto& [mnemonic, value] : kTypes) {
    if (value == type) {
      return std::string(mnemonic);
    }
  }
  return "TYPE" + std::to_string(type);
}

std::optional<std::uint16_t> classFromName(std::string_view name) {
  for (const auto& [mnemonic, value] : kClasses) {
    if (mnemonic == name) {
      return value;
    }
  }
  return numbered(name, "CLASS");
}

std::string className(std::uint16_t dns_class) {
  for (const auto& [mnemonic, value] : kClasses) {
    if (value == dns_class) {
      return std::string(mnemonic);
    }
  }
  return "CLASS" + std::to_string(dns_class);
}

std::optional<std::uint16_t> rcodeFromName(std::string_view name) {
  for (std::size_t i = 0; i < kRcodes.size(); ++i) {
    if (kRcodes[i] == name) {
      return static_cast<std::uint16_t>(i);
    }
  }
  if (name == "BADVERS") {
    return 16;
  }
  return numbered(name, "RCODE");
}

std::string rcodeName(std::uint16_t rcode) {
  if (rcode < kRcodes.size()) {
    return std::string(kRcodes[rcode]);
  }
  return rcode == 16 ? "BADVERS" : "RCODE" + std::to_string(rcode);
}

}  // namespace vigie::probes::dns
