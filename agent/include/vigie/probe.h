// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigie/config_schema.h"
#include "vigie/metric_family.h"

namespace vigie {

/// Nagios order, so exit codes of `--probe` and plugin statuses map one to one.
enum class Status : std::uint8_t { Ok = 0, Warning = 1, Critical = 2, Unknown = 3 };

std::string_view statusName(Status status);

using Labels = std::vector<std::pair<std::string, std::string>>;

/// One value of a family its probe type declared, e.g. probe_ssl_earliest_cert_expiry. The
/// agent adds the probe's identity labels (probe, type, configured labels) when it is exported.
struct Sample {
  FamilyHandle family;
  double value = 0;
  Labels labels{};

  const std::string& name() const { return family->name; }
};

/// The outcome of one execution. A target that is down is an ordinary result (Critical with a
/// reason), never an exception.
struct ProbeResult {
  Status status = Status::Unknown;
  /// Short machine word from the probe type's documented set ("connect", "timeout", ...);
  /// empty when the probe succeeded.
  std::string reason;
  /// One line for humans and the CMDB.
  std::string message;
  std::vector<Sample> samples;
  /// Extra lines shown by `vigie-agent --probe` (timings per phase, certificate dates...).
  std::vector<std::string> details;

  static ProbeResult ok(std::string message) {
    return {Status::Ok, "", std::move(message), {}, {}};
  }
  static ProbeResult critical(std::string reason, std::string message) {
    return {Status::Critical, std::move(reason), std::move(message), {}, {}};
  }
  static ProbeResult unknown(std::string reason, std::string message) {
    return {Status::Unknown, std::move(reason), std::move(message), {}, {}};
  }
};

/// What the runner lends to one execution. Lives until the execution ends.
struct ProbeContext {
  asio::any_io_executor executor;
  std::chrono::steady_clock::time_point deadline;
  std::string probe_name;
  /// The phase the probe is in ("resolve", "connect"...), so a timeout says where it struck.
  std::string phase;
};

/// One configured check, built by its factory from validated config and immutable afterwards.
class Probe {
 public:
  virtual ~Probe() = default;
  /// Runs one check on the agent's event loop; never runs concurrently with itself.
  /// Must not block. Must stop promptly when its coroutine is cancelled: the runner cancels it
  /// at the deadline and on shutdown, and waits for it to return.
  virtual asio::awaitable<ProbeResult> run(ProbeContext& ctx) = 0;
};
using ProbePtr = std::unique_ptr<Probe>;

/// One probe type ("tcp", "http"...). Registered once in the ProbeRegistry.
class ProbeFactory {
 public:
  virtual ~ProbeFactory() = default;
  virtual std::string_view type() const = 0;
  /// The keys of the type's config block; the loader validates the block against it before
  /// create() is called, so create() only checks relations between keys.
  virtual const ConfigSchema& schema() const = 0;
  /// Every metric family the type's results may carry, declared once. The registry refuses a
  /// type that declares a name another type declared with a different help or type.
  virtual const Families& families() const {
    static const Families none;
    return none;
  }
  /// Builds a probe. Throws ConfigError (through `config.fail(key, ...)`) on invalid values.
  virtual ProbePtr create(const ProbeConfig& config) const = 0;
};
using ProbeFactoryPtr = std::unique_ptr<ProbeFactory>;

}  // namespace vigie
