// SPDX-License-Identifier: Apache-2.0
#include "plugins/c_abi_probe.h"

#include <dlfcn.h>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "util/identifiers.h"
#include "util/log.h"
#include "util/utf8.h"

namespace vigie::plugins {
namespace {

constexpr std::size_t kMaxSamples = 1000;
constexpr std::size_t kMaxLabels = 32;
constexpr std::size_t kMaxDetails = 100;
const std::set<std::string> kReservedLabels{"probe", "type", "job", "instance"};

std::atomic<std::size_t> ignored_completions{0};

std::string text(const char* value, std::size_t max_bytes = 4096) {
  return value == nullptr ? std::string() : sanitizeText(value, max_bytes);
}

// One execution waiting for its plugin. Whoever takes it out of PendingRuns (the completion,
// the cancellation, a failed start) owns its one and only completion.
class PendingRun {
 public:
  PendingRun(asio::any_io_executor executor, std::shared_ptr<const Families> families)
      : executor_(std::move(executor)), families_(std::move(families)) {}
  virtual ~PendingRun() = default;
  /// On the loop's thread.
  virtual void finish(ProbeResult result) = 0;
  const asio::any_io_executor& executor() const { return executor_; }
  /// The families of the plugin's type, which the result's samples index.
  const Families& families() const { return *families_; }

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<const Families> families_;
};

template <typename Handler>
class PendingRunFor final : public PendingRun {
 public:
  PendingRunFor(asio::any_io_executor executor, std::shared_ptr<const Families> families,
                Handler handler)
      : PendingRun(std::move(executor), std::move(families)), handler_(std::move(handler)) {}

  void finish(ProbeResult result) override {
    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) {
      slot.clear();
    }
    std::move(handler_)(std::move(result));
  }

 private:
  Handler handler_;
};

// Runs by id: the plugin gets an integer, never a pointer we would have to keep valid forever,
// so a late or repeated completion finds nothing instead of freed memory.
class PendingRuns {
 public:
  std::uint64_t add(std::shared_ptr<PendingRun> run) {
    std::lock_guard lock(mutex_);
    const std::uint64_t id = next_id_++;
    runs_.emplace(id, std::move(run));
    return id;
  }
  std::shared_ptr<PendingRun> take(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    auto it = runs_.find(id);
    if (it == runs_.end()) {
      return nullptr;
    }
    auto run = std::move(it->second);
    runs_.erase(it);
    return run;
  }

 private:
  std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<PendingRun>> runs_;
};

PendingRuns& pendingRuns() {
  // Never destroyed: a plugin thread may still complete while the process exits.
  static PendingRuns* runs = new PendingRuns;
  return *runs;
}

void finishOnLoop(std::shared_ptr<PendingRun> run, ProbeResult result) {
  const auto executor = run->executor();
  asio::post(executor, [run = std::move(run), result = std::move(result)]() mutable {
    run->finish(std::move(result));
  });
}

// The C completion callback; any thread.
void onComplete(void* op, const vigie_result* result) {
  auto run = pendingRuns().take(reinterpret_cast<std::uintptr_t>(op));
  if (!run) {
    ++ignored_completions;
    return;
  }
  // Copied here: the plugin's strings are only valid until we return.
  ProbeResult converted = convertPluginResult(result, run->families());
  finishOnLoop(std::move(run), std::move(converted));
}

void hostLog(void* host, std::int32_t level, const char* message) {
  const auto* probe_name = static_cast<const std::string*>(host);
  const LogLevel log_level = level <= VIGIE_LOG_DEBUG     ? LogLevel::Debug
                             : level == VIGIE_LOG_INFO    ? LogLevel::Info
                             : level == VIGIE_LOG_WARNING ? LogLevel::Warning
                                                          : LogLevel::Error;
  logLine(log_level, probe_name != nullptr ? *probe_name : std::string(), text(message));
}

std::string formatValue(const ProbeConfig& config, const FieldSpec& field) {
  switch (field.type) {
    case FieldType::Int:
      return std::to_string(config.getInt(field.key));
    case FieldType::Float: {
      char number[64];
      std::snprintf(number, sizeof number, "%.17g", config.getFloat(field.key));
      return number;
    }
    case FieldType::Bool:
      return config.getBool(field.key) ? "true" : "false";
    case FieldType::Duration:
      return std::to_string(config.getDuration(field.key).count());
    default:
      return config.getString(field.key);
  }
}

class CAbiProbe final : public Probe {
 public:
  CAbiProbe(std::shared_ptr<LoadedLibrary> library, const vigie_probe_type* type,
            std::shared_ptr<const Families> families, void* instance,
            std::unique_ptr<std::string> probe_name, std::unique_ptr<vigie_host_api> host)
      : library_(std::move(library)),
        type_(type),
        families_(std::move(families)),
        instance_(instance),
        probe_name_(std::move(probe_name)),
        host_(std::move(host)) {}

  ~CAbiProbe() override { type_->destroy(instance_); }

  asio::awaitable<ProbeResult> run(ProbeContext& ctx) override {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        ctx.deadline - std::chrono::steady_clock::now());
    ctx.phase = "plugin run";
    // A cancellation that came before the operation exists would reach nothing.
    if ((co_await asio::this_coro::cancellation_state).cancelled() !=
        asio::cancellation_type::none) {
      co_return ProbeResult::unknown("cancelled", "run cancelled");
    }
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(ProbeResult)>(
        [this, &ctx, remaining](auto handler) {
          start(std::move(handler), ctx.executor, remaining);
        },
        asio::use_awaitable);
  }

 private:
  template <typename Handler>
  void start(Handler handler, const asio::any_io_executor& executor,
             std::chrono::milliseconds timeout) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto run = std::make_shared<PendingRunFor<Handler>>(executor, families_, std::move(handler));
    const std::uint64_t id = pendingRuns().add(run);
    void* const op = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
    if (slot.is_connected()) {
      slot.assign([this, id, op](asio::cancellation_type) {
        if (auto cancelled = pendingRuns().take(id)) {
          if (type_->cancel != nullptr) {
            type_->cancel(instance_, op);
          }
          finishOnLoop(std::move(cancelled), ProbeResult::unknown("cancelled", "run cancelled"));
        }
      });
    }
    run.reset();  // PendingRuns holds it until someone takes it
    const std::int32_t rc =
        type_->start(instance_, std::max<std::int64_t>(timeout.count(), 0), &onComplete, op);
    if (rc != 0) {
      if (auto failed = pendingRuns().take(id)) {
        finishOnLoop(std::move(failed),
                     ProbeResult::unknown("plugin_error", "the plugin could not start the run (" +
                                                              std::to_string(rc) + ")"));
      }
    }
  }

  std::shared_ptr<LoadedLibrary> library_;
  const vigie_probe_type* type_;
  std::shared_ptr<const Families> families_;
  void* instance_;
  std::unique_ptr<std::string> probe_name_;  // stable address: the host pointer for logging
  std::unique_ptr<vigie_host_api> host_;
};

class CAbiFactory final : public ProbeFactory {
 public:
  CAbiFactory(std::shared_ptr<LoadedLibrary> library, const vigie_probe_type* type)
      : library_(std::move(library)), type_(type), name_(type->type_name) {
    for (std::size_t i = 0; i < type->field_count; ++i) {
      const auto* field = reinterpret_cast<const vigie_field*>(
          reinterpret_cast<const char*>(type->fields) + i * type->field_struct_size);
      schema_.push_back(translate(*field, i));
    }
    auto families = std::make_shared<Families>();
    std::set<std::string> names;
    for (std::size_t i = 0; i < type->family_count; ++i) {
      const auto* family = reinterpret_cast<const vigie_family*>(
          reinterpret_cast<const char*>(type->families) + i * type->family_struct_size);
      families->push_back(translate(*family, i));
      if (!names.insert(families->back()->name).second) {
        throw std::runtime_error("family " + std::to_string(i) + " of type '" + name_ +
                                 "' repeats the name '" + families->back()->name + "'");
      }
    }
    families_ = std::move(families);
  }

  std::string_view type() const override { return name_; }
  const ConfigSchema& schema() const override { return schema_; }
  const Families& families() const override { return *families_; }

  ProbePtr create(const ProbeConfig& config) const override {
    std::vector<std::pair<std::string, std::string>> values;
    for (const FieldSpec& field : schema_) {
      if (config.has(field.key)) {
        values.emplace_back(field.key, formatValue(config, field));
      }
    }
    std::vector<vigie_kv> kvs;
    for (const auto& [key, value] : values) {
      kvs.push_back({key.c_str(), value.c_str()});
    }
    auto probe_name = std::make_unique<std::string>(config.probeName());
    auto host = std::make_unique<vigie_host_api>();
    host->struct_size = sizeof(vigie_host_api);
    host->abi_major = VIGIE_PLUGIN_ABI_MAJOR;
    host->abi_minor = VIGIE_PLUGIN_ABI_MINOR;
    host->host = probe_name.get();
    host->log = &hostLog;
    char error[1024] = {};
    void* instance = nullptr;
    const std::int32_t rc = type_->create(host.get(), probe_name->c_str(), kvs.data(), kvs.size(),
                                          &instance, error, sizeof error);
    error[sizeof error - 1] = '\0';
    if (rc != 0 || instance == nullptr) {
      std::string path = config.keyPath("");
      path.pop_back();
      const std::string reason = error[0] != '\0' ? text(error, 1000) : "no reason given";
      throw ConfigError(
          {ConfigIssue{config.locationOf(""), path,
                       "plugin " + library_->path() + " rejected the probe: " + reason}});
    }
    return std::make_unique<CAbiProbe>(library_, type_, families_, instance, std::move(probe_name),
                                       std::move(host));
  }

 private:
  FamilyHandle translate(const vigie_family& family, std::size_t index) const {
    const std::string where = "family " + std::to_string(index) + " of type '" + name_ + "'";
    if (family.name == nullptr || !isMetricName(family.name)) {
      throw std::runtime_error(where + " has an invalid name (use [a-zA-Z_:][a-zA-Z0-9_:]*)");
    }
    if (family.type != VIGIE_METRIC_GAUGE && family.type != VIGIE_METRIC_COUNTER) {
      throw std::runtime_error(where + " ('" + std::string(family.name) + "') has unknown type " +
                               std::to_string(family.type));
    }
    return declareFamily(
        family.name, text(family.help, 512),
        family.type == VIGIE_METRIC_COUNTER ? MetricType::Counter : MetricType::Gauge);
  }

  FieldSpec translate(const vigie_field& field, std::size_t index) const {
    const std::string where = "field " + std::to_string(index) + " of type '" + name_ + "'";
    if (field.key == nullptr || !isWord(field.key)) {
      throw std::runtime_error(where + " has an invalid key (use [a-z0-9_]+)");
    }
    FieldSpec spec;
    spec.key = field.key;
    switch (field.type) {
      case VIGIE_FIELD_STRING:
        spec.type = FieldType::String;
        break;
      case VIGIE_FIELD_SECRET:
        spec.type = FieldType::Secret;
        break;
      case VIGIE_FIELD_INT:
        spec.type = FieldType::Int;
        break;
      case VIGIE_FIELD_FLOAT:
        spec.type = FieldType::Float;
        break;
      case VIGIE_FIELD_BOOL:
        spec.type = FieldType::Bool;
        break;
      case VIGIE_FIELD_DURATION:
        spec.type = FieldType::Duration;
        break;
      default:
        throw std::runtime_error(where + " ('" + spec.key + "') has unknown type " +
                                 std::to_string(field.type));
    }
    spec.required = field.required != 0;
    if (field.default_value != nullptr) {
      spec.default_value = field.default_value;
    }
    spec.doc = text(field.doc);
    if (field.choices != nullptr) {
      for (std::size_t i = 0; i < field.choice_count && i < 256; ++i) {
        if (field.choices[i] != nullptr) {
          spec.choices.push_back(field.choices[i]);
        }
      }
    }
    return spec;
  }

  std::shared_ptr<LoadedLibrary> library_;
  const vigie_probe_type* type_;
  std::string name_;
  ConfigSchema schema_;
  std::shared_ptr<const Families> families_;
};

}  // namespace

LoadedLibrary::~LoadedLibrary() { dlclose(handle_); }

std::size_t ignoredPluginCompletions() { return ignored_completions.load(); }

ProbeResult convertPluginResult(const vigie_result* result, const Families& families) {
  if (result == nullptr) {
    return ProbeResult::unknown("plugin_error", "the plugin completed without a result");
  }
  if (result->struct_size < sizeof(vigie_result)) {
    return ProbeResult::unknown("plugin_error", "the plugin's result is too small (struct_size " +
                                                    std::to_string(result->struct_size) + ")");
  }
  ProbeResult out;
  out.message = text(result->message);
  if (result->status < VIGIE_STATUS_OK || result->status > VIGIE_STATUS_UNKNOWN) {
    out.status = Status::Unknown;
    out.reason = "plugin_error";
    out.message = "the plugin reported an invalid status " + std::to_string(result->status) +
                  (out.message.empty() ? "" : ": " + out.message);
  } else {
    out.status = static_cast<Status>(result->status);
    const std::string reason = text(result->reason, 64);
    if (out.status != Status::Ok) {
      out.reason = isWord(reason) ? reason : "plugin";
    }
  }
  if (result->details != nullptr) {
    for (std::size_t i = 0; i < result->detail_count && i < kMaxDetails; ++i) {
      if (result->details[i] != nullptr) {
        out.details.push_back(text(result->details[i]));
      }
    }
  }
  if (result->sample_count == 0) {
    return out;
  }
  if (result->samples == nullptr || result->sample_struct_size < sizeof(vigie_sample)) {
    out.details.push_back("samples ignored: no array or sample_struct_size too small");
    return out;
  }
  if (result->sample_count > kMaxSamples) {
    out.details.push_back(std::to_string(result->sample_count) + " samples reported, the first " +
                          std::to_string(kMaxSamples) + " kept");
  }
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < result->sample_count && i < kMaxSamples; ++i) {
    const auto& sample = *reinterpret_cast<const vigie_sample*>(
        reinterpret_cast<const char*>(result->samples) + i * result->sample_struct_size);
    if (sample.family >= families.size()) {
      ++dropped;
      continue;
    }
    Sample converted{families[sample.family], sample.value, {}};
    bool valid = true;
    if (sample.label_count > 0 && sample.labels == nullptr) {
      valid = false;
    }
    for (std::size_t j = 0; valid && j < sample.label_count && j < kMaxLabels; ++j) {
      const vigie_label& label = sample.labels[j];
      if (label.name == nullptr || !isLabelName(label.name) ||
          kReservedLabels.count(label.name) != 0) {
        valid = false;
        break;
      }
      converted.labels.emplace_back(label.name, text(label.value, 256));
    }
    if (!valid) {
      ++dropped;
      continue;
    }
    out.samples.push_back(std::move(converted));
  }
  if (dropped != 0) {
    out.details.push_back(std::to_string(dropped) +
                          " samples dropped: undeclared family or invalid label name");
  }
  return out;
}

ProbeFactoryPtr makeCAbiFactory(std::shared_ptr<LoadedLibrary> library,
                                const vigie_probe_type* type) {
  return std::make_unique<CAbiFactory>(std::move(library), type);
}

}  // namespace vigie::plugins
