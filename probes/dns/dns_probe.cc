// SPDX-License-Identifier: Apache-2.0
#include "dns/dns_probe.h"

#include <ares.h>

#include <asio/ip/address.hpp>
#include <chrono>
#include <optional>
#include <random>
#include <stdexcept>

#include "dns/ares_exchange.h"
#include "dns/dns_message.h"
#include "http/http_checks.h"
#include "net/host_port.h"
#include "util/timing.h"

namespace vigie::probes {
namespace {

using dns::ResourceRecord;

const FamilyHandle& answerRrs() {
  static const FamilyHandle family = declareFamily(
      "probe_dns_answer_rrs", "Returns number of entries in the answer resource record list");
  return family;
}
const FamilyHandle& authorityRrs() {
  static const FamilyHandle family = declareFamily(
      "probe_dns_authority_rrs", "Returns number of entries in the authority resource record list");
  return family;
}
const FamilyHandle& additionalRrs() {
  static const FamilyHandle family =
      declareFamily("probe_dns_additional_rrs",
                    "Returns number of entries in the additional resource record list");
  return family;
}
const FamilyHandle& serial() {
  static const FamilyHandle family =
      declareFamily("probe_dns_serial", "Returns the serial number of the zone");
  return family;
}
const FamilyHandle& querySucceeded() {
  static const FamilyHandle family = declareFamily(
      "probe_dns_query_succeeded", "Displays whether or not the query was executed successfully");
  return family;
}

/// blackbox's validate_*_rrs: regexes over the records of one section, in presentation form.
struct RrValidation {
  std::vector<Regex> fail_if_matches;
  std::vector<Regex> fail_if_not_matches;
  std::vector<Regex> fail_if_all_match;
  std::vector<Regex> fail_if_none_matches;

  /// Why the section fails, or nothing.
  std::optional<std::string> check(const std::vector<ResourceRecord>& records) const {
    for (const Regex& regex : fail_if_matches) {
      for (const ResourceRecord& record : records) {
        if (regex.search(record.text)) {
          return "record '" + record.text + "' matches '" + regex.pattern() + "'";
        }
      }
    }
    for (const Regex& regex : fail_if_not_matches) {
      for (const ResourceRecord& record : records) {
        if (!regex.search(record.text)) {
          return "record '" + record.text + "' does not match '" + regex.pattern() + "'";
        }
      }
    }
    // As blackbox: with no record at all, "all match" holds.
    for (const Regex& regex : fail_if_all_match) {
      bool all = true;
      for (const ResourceRecord& record : records) {
        all = all && regex.search(record.text);
      }
      if (all) {
        return "every record matches '" + regex.pattern() + "'";
      }
    }
    for (const Regex& regex : fail_if_none_matches) {
      bool any = false;
      for (const ResourceRecord& record : records) {
        any = any || regex.search(record.text);
      }
      if (!any) {
        return "no record matches '" + regex.pattern() + "'";
      }
    }
    return std::nullopt;
  }
};

struct Settings {
  std::string query_name;
  std::uint16_t query_type = 1;
  std::uint16_t query_class = 1;
  dns::ExchangeOptions exchange;
  std::string server_text;  ///< for messages: "127.0.0.1:53", or "system resolver"
  std::optional<int> ip_protocol;
  bool dnssec = false;
  bool require_authenticated = false;
  std::vector<std::uint16_t> valid_rcodes;
  RrValidation answer;
  RrValidation authority;
  RrValidation additional;
  /// The query, built once; each run gives it a fresh id.
  std::vector<unsigned char> query;
};

std::string aresReason(int status) {
  switch (status) {
    case ARES_ETIMEOUT:
      return "timeout";
    case ARES_ECONNREFUSED:
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
      return "connect";
    case ARES_EBADRESP:
    case ARES_EFORMERR:
      return "answer";
    default:
      return "resolver";
  }
}

std::string sectionSummary(const std::vector<ResourceRecord>& records) {
  return std::to_string(records.size()) + (records.size() == 1 ? " record" : " records");
}

class DnsProbe final : public Probe {
 public:
  explicit DnsProbe(Settings settings) : settings_(std::move(settings)) {}

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    const auto started = std::chrono::steady_clock::now();
    std::vector<Sample> samples;
    std::vector<std::string> details;
    auto fail = [&](std::string reason, std::string message) {
      ProbeResult result = ProbeResult::critical(std::move(reason), std::move(message));
      result.samples = std::move(samples);
      result.details = std::move(details);
      return result;
    };
    if (settings_.ip_protocol) {
      samples.push_back({families::ipProtocol(), static_cast<double>(*settings_.ip_protocol)});
    }

    ctx.phase = "query";
    std::vector<unsigned char> query = settings_.query;
    const auto id = static_cast<std::uint16_t>(random_());
    query[0] = static_cast<unsigned char>(id >> 8);
    query[1] = static_cast<unsigned char>(id & 0xff);
    dns::ExchangeOptions options = settings_.exchange;
    options.timeout = std::max(std::chrono::milliseconds(1),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   ctx.deadline - std::chrono::steady_clock::now()));
    const dns::ExchangeResult result = co_await dns::exchange(ctx.executor, options, query);
    const double lookup_seconds = secondsSince(started);
    samples.push_back({families::dnsLookupTime(), lookup_seconds});
    const std::string asked = settings_.query_name + " " + dns::typeName(settings_.query_type);
    if (result.status != ARES_SUCCESS) {
      samples.push_back({querySucceeded(), 0});
      co_return fail(aresReason(result.status), "no answer to " + asked + " from " +
                                                    settings_.server_text + ": " +
                                                    ares_strerror(result.status));
    }
    const auto message = dns::parseMessage(result.answer.data(), result.answer.size());
    if (!message) {
      samples.push_back({querySucceeded(), 0});
      co_return fail("answer", "malformed answer to " + asked + " from " + settings_.server_text);
    }
    samples.push_back({querySucceeded(), 1});
    samples.push_back({answerRrs(), static_cast<double>(message->answer.size())});
    samples.push_back({authorityRrs(), static_cast<double>(message->authority.size())});
    samples.push_back({additionalRrs(), static_cast<double>(message->additional.size())});
    for (const ResourceRecord& record : message->answer) {
      if (record.soa_serial) {
        samples.push_back({serial(), static_cast<double>(*record.soa_serial)});
        break;
      }
    }
    const std::string rcode = dns::rcodeName(message->rcode);
    details.push_back(settings_.server_text + " answered " + rcode + " in " +
                      milliseconds(lookup_seconds) + (message->authenticated_data ? " (AD)" : "") +
                      ": " + sectionSummary(message->answer) + " in answer, " +
                      sectionSummary(message->authority) + " in authority, " +
                      sectionSummary(message->additional) + " in additional");
    for (const auto& [section, records] :
         {std::pair{"answer", &message->answer}, std::pair{"authority", &message->authority},
          std::pair{"additional", &message->additional}}) {
      for (const ResourceRecord& record : *records) {
        details.push_back(std::string(section) + ": " + record.text);
      }
    }

    if (std::find(settings_.valid_rcodes.begin(), settings_.valid_rcodes.end(), message->rcode) ==
        settings_.valid_rcodes.end()) {
      co_return fail("rcode", settings_.server_text + " answered " + rcode + " to " + asked);
    }
    if (auto why = settings_.answer.check(message->answer)) {
      co_return fail("answer", "answer to " + asked + ": " + *why);
    }
    if (auto why = settings_.authority.check(message->authority)) {
      co_return fail("answer", "authority of the answer to " + asked + ": " + *why);
    }
    if (auto why = settings_.additional.check(message->additional)) {
      co_return fail("answer", "additional records of the answer to " + asked + ": " + *why);
    }
    if (settings_.require_authenticated && !message->authenticated_data) {
      co_return fail("dnssec", settings_.server_text + " did not set the AD bit: the answer to " +
                                   asked + " is not DNSSEC-validated");
    }
    ProbeResult ok =
        ProbeResult::ok(asked + ": " + rcode + " from " + settings_.server_text + " in " +
                        milliseconds(lookup_seconds) + ", " + sectionSummary(message->answer));
    ok.samples = std::move(samples);
    ok.details = std::move(details);
    co_return ok;
  }

 private:
  Settings settings_;
  std::minstd_rand random_{std::random_device{}()};
};

RrValidation parseValidation(const ProbeConfig& config, const std::string& key) {
  RrValidation validation;
  if (!config.has(key)) {
    return validation;
  }
  const ConfigNode& node = config.getNode(key);
  if (!node.isMap()) {
    config.fail(key,
                "expected a map of fail_if_matches_regexp, fail_if_not_matches_regexp, "
                "fail_if_all_match_regexp, fail_if_none_matches_regexp");
  }
  for (const auto& [name, value] : node.entries()) {
    std::vector<Regex>* target =
        name == "fail_if_matches_regexp"        ? &validation.fail_if_matches
        : name == "fail_if_not_matches_regexp"  ? &validation.fail_if_not_matches
        : name == "fail_if_all_match_regexp"    ? &validation.fail_if_all_match
        : name == "fail_if_none_matches_regexp" ? &validation.fail_if_none_matches
                                                : nullptr;
    if (target == nullptr) {
      config.fail(key, "unknown key '" + name +
                           "' (expected fail_if_matches_regexp, fail_if_not_matches_regexp, "
                           "fail_if_all_match_regexp or fail_if_none_matches_regexp)");
    }
    std::vector<const ConfigNode*> patterns;
    if (value.isScalar()) {
      patterns.push_back(&value);
    } else if (value.isSequence()) {
      for (const ConfigNode& item : value.items()) {
        patterns.push_back(&item);
      }
    }
    if (patterns.empty()) {
      config.fail(key, name + ": expected a regular expression or a list of them");
    }
    for (const ConfigNode* pattern : patterns) {
      if (!pattern->isScalar()) {
        config.fail(key, name + ": expected a regular expression or a list of them");
      }
      try {
        target->emplace_back(pattern->text());
      } catch (const std::invalid_argument& e) {
        config.fail(key, name + ": '" + pattern->text() + "': " + e.what());
      }
    }
  }
  return validation;
}

class DnsProbeFactory final : public ProbeFactory {
 public:
  std::string_view type() const override { return "dns"; }

  const Families& families() const override {
    static const Families declared{families::dnsLookupTime(),
                                   families::ipProtocol(),
                                   querySucceeded(),
                                   answerRrs(),
                                   authorityRrs(),
                                   additionalRrs(),
                                   serial()};
    return declared;
  }

  const ConfigSchema& schema() const override {
    static const ConfigSchema schema{
        {"query_name", FieldType::String, true, {}, "Name to query, e.g. www.example.org"},
        {"query_type", FieldType::String, false, "A",
         "Record type: A, AAAA, MX, SOA, TXT, NS, CNAME, SRV, PTR, CAA, ANY... or TYPEnnn"},
        {"query_class", FieldType::String, false, "IN", "Class: IN, CH, HS, ANY or CLASSnnn"},
        {"server",
         FieldType::String,
         false,
         {},
         "IP[:PORT] of the server to ask ([v6]:PORT; port 53 by default); absent: the system's "
         "resolvers (/etc/resolv.conf)"},
        {"transport_protocol",
         FieldType::String,
         false,
         "udp",
         "udp (TCP again when the answer is truncated) or tcp (TCP only)",
         {"udp", "tcp"}},
        {"recursion_desired", FieldType::Bool, false, "true", "Set the RD bit in the query"},
        {"dnssec", FieldType::Bool, false, "false",
         "Ask for DNSSEC records: EDNS0 with the DO bit set"},
        {"fail_if_not_authenticated", FieldType::Bool, false, "false",
         "Fail unless the answer has the AD bit (the resolver validated it with DNSSEC); the "
         "query sets AD to ask for it"},
        {"valid_rcodes", FieldType::StringList, false, "[NOERROR]",
         "Response codes counted as success: NOERROR, NXDOMAIN, SERVFAIL, REFUSED..."},
        {"validate_answer_rrs",
         FieldType::Node,
         false,
         {},
         "Regex checks on the answer section's records (fail_if_matches_regexp, "
         "fail_if_not_matches_regexp, fail_if_all_match_regexp, fail_if_none_matches_regexp)"},
        {"validate_authority_rrs",
         FieldType::Node,
         false,
         {},
         "The same checks on the authority section"},
        {"validate_additional_rrs",
         FieldType::Node,
         false,
         {},
         "The same checks on the additional section"},
    };
    return schema;
  }

  ProbePtr create(const ProbeConfig& config) const override {
    Settings settings;
    settings.query_name = config.getString("query_name");
    const auto type = dns::typeFromName(config.getString("query_type"));
    if (!type) {
      config.fail("query_type", "unknown record type '" + config.getString("query_type") +
                                    "' (a mnemonic such as AAAA, or TYPEnnn)");
    }
    settings.query_type = *type;
    const auto dns_class = dns::classFromName(config.getString("query_class"));
    if (!dns_class) {
      config.fail("query_class", "unknown class '" + config.getString("query_class") +
                                     "' (IN, CH, HS, ANY or CLASSnnn)");
    }
    settings.query_class = *dns_class;
    settings.server_text = "the system resolver";
    if (config.has("server")) {
      const std::string& text = config.getString("server");
      HostPort target{text, 53};
      if (asio::error_code ec; asio::ip::make_address(text, ec), ec) {
        const auto parsed = parseHostPort(text);
        if (!parsed) {
          config.fail("server", "expected IP or IP:PORT ([v6]:PORT), got '" + text + "'");
        }
        target = *parsed;
      }
      asio::error_code ec;
      const auto address = asio::ip::make_address(target.host, ec);
      if (ec) {
        config.fail("server", "expected an IP address, got '" + target.host +
                                  "' (a server is asked by address, not by name)");
      }
      const std::string port = std::to_string(target.port);
      settings.server_text =
          address.is_v6() ? "[" + target.host + "]:" + port : target.host + ":" + port;
      settings.exchange.servers = settings.server_text;
      settings.ip_protocol = address.is_v6() ? 6 : 4;
    }
    settings.exchange.tcp_only = config.getString("transport_protocol") == "tcp";
    settings.dnssec = config.getBool("dnssec");
    settings.require_authenticated = config.getBool("fail_if_not_authenticated");
    for (const std::string& name : config.getStringList("valid_rcodes")) {
      const auto rcode = dns::rcodeFromName(name);
      if (!rcode) {
        config.fail("valid_rcodes", "unknown response code '" + name +
                                        "' (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, "
                                        "REFUSED... or RCODEnn)");
      }
      settings.valid_rcodes.push_back(*rcode);
    }
    if (settings.valid_rcodes.empty()) {
      config.fail("valid_rcodes", "at least one response code is needed");
    }
    settings.answer = parseValidation(config, "validate_answer_rrs");
    settings.authority = parseValidation(config, "validate_authority_rrs");
    settings.additional = parseValidation(config, "validate_additional_rrs");

    unsigned char* buffer = nullptr;
    int length = 0;
    const int status = ares_create_query(
        settings.query_name.c_str(), settings.query_class, settings.query_type, 0,
        config.getBool("recursion_desired") ? 1 : 0, &buffer, &length, settings.dnssec ? 4096 : 0);
    if (status != ARES_SUCCESS) {
      config.fail("query_name",
                  "cannot query '" + settings.query_name + "': " + ares_strerror(status));
    }
    settings.query.assign(buffer, buffer + length);
    ares_free_string(buffer);
    if (settings.require_authenticated) {
      settings.query[3] |= 0x20;  // AD in a query: "tell me whether you validated" (RFC 6840)
    }
    // c-ares writes the OPT record last: its TTL's third byte holds the DO bit (RFC 3225).
    if (settings.dnssec && settings.query.size() >= 11 &&
        settings.query[settings.query.size() - 10] == 0 &&
        settings.query[settings.query.size() - 9] == 41) {
      settings.query[settings.query.size() - 4] |= 0x80;
    }
    return std::make_unique<DnsProbe>(std::move(settings));
  }
};

}  // namespace

ProbeFactoryPtr makeDnsProbeFactory() { return std::make_unique<DnsProbeFactory>(); }

}  // namespace vigie::probes
