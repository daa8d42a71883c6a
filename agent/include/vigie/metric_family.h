// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigie {

enum class MetricType : std::uint8_t { Gauge, Counter };

std::string_view metricTypeName(MetricType type);

/// A metric's name, help and type, declared once by the probe type that reports it, as
/// prometheus-cpp's Family is: a run's samples only carry a handle to it, their value and labels.
struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::Gauge;
};

/// Shared, so a result kept across a reload keeps the family of a plugin that was unloaded.
using FamilyHandle = std::shared_ptr<const MetricFamily>;
using Families = std::vector<FamilyHandle>;

inline FamilyHandle declareFamily(std::string name, std::string help,
                                  MetricType type = MetricType::Gauge) {
  return std::make_shared<const MetricFamily>(MetricFamily{std::move(name), std::move(help), type});
}

/// Families several probe types report, declared here once so their help cannot drift apart.
/// The agent's own (probe_success, probe_duration_seconds) cannot be declared by a probe type.
namespace families {

#define VIGIE_SHARED_FAMILY(function, name, help)                 \
  inline const FamilyHandle& function() {                         \
    static const FamilyHandle family = declareFamily(name, help); \
    return family;                                                \
  }

// Rendered by the agent for every probe that ran.
VIGIE_SHARED_FAMILY(probeSuccess, "probe_success",
                    "Displays whether or not the probe was a success")
VIGIE_SHARED_FAMILY(probeDuration, "probe_duration_seconds",
                    "Returns how long the probe took to complete in seconds")

// Reported by the probe types that resolve, connect or talk TLS.
VIGIE_SHARED_FAMILY(dnsLookupTime, "probe_dns_lookup_time_seconds",
                    "Returns the time taken for probe dns lookup in seconds")
VIGIE_SHARED_FAMILY(ipProtocol, "probe_ip_protocol",
                    "Specifies whether probe ip protocol is IP4 or IP6")
VIGIE_SHARED_FAMILY(tlsVersionInfo, "probe_tls_version_info",
                    "Returns the TLS version used, or NaN when unknown")
VIGIE_SHARED_FAMILY(sslEarliestCertExpiry, "probe_ssl_earliest_cert_expiry",
                    "Returns the earliest expiry of the certificates the server sent, in unixtime")
VIGIE_SHARED_FAMILY(sslLastChainExpiry, "probe_ssl_last_chain_expiry_timestamp_seconds",
                    "Returns the earliest expiry in the verified chain, in unixtime")

#undef VIGIE_SHARED_FAMILY

/// Names only the agent itself reports: probe_success, probe_duration_seconds and vigie_probe_*.
inline bool agentOwned(std::string_view name) {
  return name == probeSuccess()->name || name == probeDuration()->name ||
         name.substr(0, 12) == "vigie_probe_";
}

}  // namespace families
}  // namespace vigie
