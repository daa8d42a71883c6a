// SPDX-License-Identifier: Apache-2.0
#include "tls/tls_options.h"

#include <cmath>
#include <ctime>
#include <filesystem>

#include "util/bounded_file.h"
#include "util/duration.h"
#include "util/log.h"
#include "vigie/metric_family.h"

namespace vigie::probes::tls {

void appendFileKeys(ConfigSchema& schema, const KeySpec& spec) {
  schema.push_back({"tls_ca_file", FieldType::String, false, {}, spec.ca_doc});
  schema.push_back({"tls_cert_file", FieldType::String, false, {}, spec.cert_doc});
  schema.push_back({"tls_key_file", FieldType::String, false, {}, spec.key_doc});
}

FieldSpec insecureKey(const KeySpec& spec) {
  return {spec.insecure_key, FieldType::Bool, false, "false", spec.insecure_doc};
}

void appendSchema(ConfigSchema& schema, const KeySpec& spec) {
  appendFileKeys(schema, spec);
  if (!spec.insecure_key.empty()) {
    schema.push_back(insecureKey(spec));
  }
}

Files parseFiles(const ProbeConfig& config) {
  if (config.has("tls_cert_file") != config.has("tls_key_file")) {
    config.fail(config.has("tls_cert_file") ? "tls_key_file" : "tls_cert_file",
                "tls_cert_file and tls_key_file go together");
  }
  Files files;
  for (auto [key, out] :
       {std::pair{"tls_ca_file", &files.ca_file}, std::pair{"tls_cert_file", &files.cert_file},
        std::pair{"tls_key_file", &files.key_file}}) {
    if (config.has(key)) {
      *out = config.getPath(key);
      // OpenSSL would block on a FIFO and read a device without end. (A missing file is
      // reported after the checks of the TLS settings, by the type that loads it.)
      std::error_code ec;
      if (std::string error;
          std::filesystem::exists(*out, ec) && !readRegularFile(*out, kMaxConfigFileBytes, error)) {
        config.fail(key, error);
      }
    }
  }
  return files;
}

void refuseKeys(const ProbeConfig& config, std::initializer_list<const char*> keys,
                const std::string& message) {
  for (const char* key : keys) {
    if (config.has(key)) {
      config.fail(key, message);
    }
  }
}

void warnInsecure(const ProbeConfig& config, const std::string& key, const std::string& accepted) {
  logLine(LogLevel::Warning, config.probeName(),
          key + " is on: " + accepted + ", the server is not authenticated");
}

namespace {

std::string dateOf(double unix_time) {
  const auto seconds = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  return date;
}

/// "5 days", "1 day", "7 hours", "12 minutes": whole units, rounded down, as check_http does.
std::string spanOf(double seconds) {
  const auto count = [](double value, const char* unit) {
    const auto whole = static_cast<long long>(std::floor(value));
    return std::to_string(whole) + " " + unit + (whole == 1 ? "" : "s");
  };
  if (seconds >= 86400) {
    return count(seconds / 86400, "day");
  }
  if (seconds >= 3600) {
    return count(seconds / 3600, "hour");
  }
  return count(seconds / 60, "minute");
}

/// "21d" as written in the config, where formatDuration would say "504h".
std::string thresholdText(std::chrono::milliseconds threshold) {
  constexpr std::chrono::milliseconds kDay = std::chrono::hours(24);
  return threshold % kDay == std::chrono::milliseconds::zero()
             ? std::to_string(threshold / kDay) + "d"
             : formatDuration(threshold);
}

}  // namespace

void appendExpirySchema(ConfigSchema& schema) {
  schema.push_back({"tls_expiry_warning",
                    FieldType::Duration,
                    false,
                    {},
                    "WARNING when a certificate of the chain expires within this time, e.g. 21d"});
  schema.push_back({"tls_expiry_critical",
                    FieldType::Duration,
                    false,
                    {},
                    "CRITICAL when a certificate of the chain expires within this time, e.g. 7d"});
}

ExpiryThresholds parseExpiry(const ProbeConfig& config) {
  ExpiryThresholds thresholds;
  for (auto [key, out] : {std::pair{"tls_expiry_warning", &thresholds.warning},
                          std::pair{"tls_expiry_critical", &thresholds.critical}}) {
    if (config.has(key)) {
      *out = config.getDuration(key);
      if (*out <= std::chrono::milliseconds::zero()) {
        config.fail(key, "must be greater than 0s");
      }
    }
  }
  if (thresholds.warning && thresholds.critical && *thresholds.warning <= *thresholds.critical) {
    config.fail("tls_expiry_warning", "must be longer than tls_expiry_critical (" +
                                          thresholdText(*thresholds.critical) +
                                          "): the warning comes first");
  }
  return thresholds;
}

std::optional<ProbeResult> checkExpiry(const ExpiryThresholds& thresholds,
                                       const PeerCertificates& certificates, double now) {
  if (!thresholds.any() || !certificates.earliest_expiry) {
    return std::nullopt;
  }
  const double expiry = *certificates.earliest_expiry;
  const double left = expiry - now;
  const std::string certificate = "certificate " + certificates.earliest_subject;
  if (left <= 0) {
    return ProbeResult::critical(
        "tls_expiry", certificate + " expired " + spanOf(-left) + " ago (" + dateOf(expiry) + ")");
  }
  auto within = [left](const std::optional<std::chrono::milliseconds>& threshold) {
    return threshold && left * 1000 < static_cast<double>(threshold->count());
  };
  const bool critical = within(thresholds.critical);
  if (!critical && !within(thresholds.warning)) {
    return std::nullopt;
  }
  const auto& threshold = critical ? *thresholds.critical : *thresholds.warning;
  ProbeResult result = ProbeResult::critical(
      "tls_expiry", certificate + " expires in " + spanOf(left) + " (" + dateOf(expiry) + "), " +
                        (critical ? "critical" : "warning") + " threshold " +
                        thresholdText(threshold));
  if (!critical) {
    result.status = Status::Warning;
  }
  return result;
}

std::optional<ProbeResult> checkExpiry(const ExpiryThresholds& thresholds,
                                       const PeerCertificates& certificates) {
  return checkExpiry(thresholds, certificates, static_cast<double>(std::time(nullptr)));
}

std::shared_ptr<asio::ssl::context> makeClientContext(const ProbeConfig& config,
                                                      const Files& files) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  asio::error_code ec;
  if (!files.ca_file.empty()) {
    context->load_verify_file(files.ca_file, ec);
    if (ec) {
      config.fail("tls_ca_file", "cannot load CA bundle '" + files.ca_file + "': " + ec.message());
    }
  } else {
    context->set_default_verify_paths(ec);
  }
  if (!files.cert_file.empty()) {
    context->use_certificate_chain_file(files.cert_file, ec);
    if (ec) {
      config.fail("tls_cert_file", "cannot load certificate: " + ec.message());
    }
    context->use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
    if (ec) {
      config.fail("tls_key_file", "cannot load key: " + ec.message());
    }
  }
  return context;
}

PeerCertificates recordHandshake(SSL* ssl, const std::string& prefix, std::vector<Sample>& samples,
                                 std::vector<std::string>& details) {
  PeerCertificates certificates = inspectPeerCertificates(ssl);
  const std::string version = tlsVersionName(ssl);
  samples.push_back({families::tlsVersionInfo(), 1.0, {{"version", version}}});
  if (certificates.earliest_expiry) {
    samples.push_back({families::sslEarliestCertExpiry(), *certificates.earliest_expiry});
  }
  details.push_back(prefix + version + " handshake done");
  for (const std::string& description : certificates.descriptions) {
    details.push_back("certificate: " + description);
  }
  return certificates;
}

}  // namespace vigie::probes::tls
