// SPDX-License-Identifier: Apache-2.0
// Header-only C++ helper over vigie/plugin_abi.h for plugin authors. Write a class, add
// VIGIE_PLUGIN(YourClass) once, build a MODULE library: see docs/PLUGINS.md.
//
// Nothing of this header crosses the boundary: the plugin and the agent only share the C structs
// of plugin_abi.h, so the plugin may use another compiler or standard library than the agent.
#ifndef VIGIE_PLUGIN_SDK_HPP
#define VIGIE_PLUGIN_SDK_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "vigie/plugin_abi.h"

namespace vigie::sdk {

enum class Status : std::int32_t { Ok = 0, Warning = 1, Critical = 2, Unknown = 3 };

enum class FieldType : std::int32_t {
  String = VIGIE_FIELD_STRING,
  Secret = VIGIE_FIELD_SECRET,
  Int = VIGIE_FIELD_INT,
  Float = VIGIE_FIELD_FLOAT,
  Bool = VIGIE_FIELD_BOOL,
  Duration = VIGIE_FIELD_DURATION,
};

/// One key of the probe type's config block, as the agent validates it.
struct Field {
  std::string key;
  FieldType type = FieldType::String;
  bool required = false;
  std::optional<std::string> default_value{};
  std::string doc{};
  std::vector<std::string> choices{};
};

/// The probe's validated block. Keys without a value and without a default are absent.
class Config {
 public:
  Config(std::string probe_name, const vigie_kv* values, std::size_t count)
      : probe_name_(std::move(probe_name)) {
    for (std::size_t i = 0; i < count; ++i) {
      values_[values[i].key] = values[i].value;
    }
  }
  const std::string& probeName() const { return probe_name_; }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  /// Throws std::invalid_argument when absent.
  const std::string& getString(const std::string& key) const {
    const auto it = values_.find(key);
    if (it == values_.end()) {
      throw std::invalid_argument(key + " is not set");
    }
    return it->second;
  }
  std::int64_t getInt(const std::string& key) const { return std::stoll(getString(key)); }
  double getFloat(const std::string& key) const { return std::stod(getString(key)); }
  bool getBool(const std::string& key) const { return getString(key) == "true"; }
  std::chrono::milliseconds getDuration(const std::string& key) const {
    return std::chrono::milliseconds(getInt(key));
  }

 private:
  std::string probe_name_;
  std::map<std::string, std::string> values_;
};

enum class MetricType : std::int32_t {
  Gauge = VIGIE_METRIC_GAUGE,
  Counter = VIGIE_METRIC_COUNTER,
};

/// A metric family the probe type reports, declared once in the class's families().
struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::Gauge;
};

/// One value of a declared family: `family` is its index in families().
struct Sample {
  std::uint32_t family = 0;
  double value = 0;
  std::vector<std::pair<std::string, std::string>> labels{};
};

struct Result {
  Status status = Status::Unknown;
  std::string reason;
  std::string message;
  std::vector<Sample> samples{};
  std::vector<std::string> details{};

  static Result ok(std::string message) { return {Status::Ok, "", std::move(message)}; }
  static Result warning(std::string reason, std::string message) {
    return {Status::Warning, std::move(reason), std::move(message)};
  }
  static Result critical(std::string reason, std::string message) {
    return {Status::Critical, std::move(reason), std::move(message)};
  }
  static Result unknown(std::string reason, std::string message) {
    return {Status::Unknown, std::move(reason), std::move(message)};
  }
};

/// Services of the agent: logging, from any thread.
class Host {
 public:
  explicit Host(const vigie_host_api* api) : api_(api) {}
  void log(std::int32_t level, const std::string& message) const noexcept {
    if (api_ != nullptr && api_->log != nullptr) {
      api_->log(api_->host, level, message.c_str());
    }
  }

 private:
  const vigie_host_api* api_;
};

/// Reports the end of one execution. Copyable, callable from any thread; only the first call
/// counts, so a plugin cannot complete twice by mistake.
class Completion {
 public:
  Completion(vigie_complete_fn complete, void* op)
      : shared_(std::make_shared<Shared>(complete, op)) {}

  void operator()(const Result& result) const noexcept {
    if (shared_->done.exchange(true)) {
      return;
    }
    std::vector<std::vector<vigie_label>> labels(result.samples.size());
    std::vector<vigie_sample> samples(result.samples.size());
    for (std::size_t i = 0; i < result.samples.size(); ++i) {
      const Sample& sample = result.samples[i];
      for (const auto& [name, value] : sample.labels) {
        labels[i].push_back({name.c_str(), value.c_str()});
      }
      samples[i] = {sample.family, sample.value, labels[i].data(), labels[i].size()};
    }
    std::vector<const char*> details;
    for (const std::string& line : result.details) {
      details.push_back(line.c_str());
    }
    vigie_result out{};
    out.struct_size = sizeof(vigie_result);
    out.sample_struct_size = sizeof(vigie_sample);
    out.status = static_cast<std::int32_t>(result.status);
    out.reason = result.reason.c_str();
    out.message = result.message.c_str();
    out.samples = samples.data();
    out.sample_count = samples.size();
    out.details = details.data();
    out.detail_count = details.size();
    shared_->complete(shared_->op, &out);
  }

  bool done() const { return shared_->done.load(); }

 private:
  struct Shared {
    Shared(vigie_complete_fn c, void* o) : complete(c), op(o) {}
    vigie_complete_fn complete;
    void* op;
    std::atomic<bool> done{false};
  };
  std::shared_ptr<Shared> shared_;
};

namespace detail {

inline void copyError(char* error, std::size_t size, const char* text) {
  if (error != nullptr && size > 0) {
    std::snprintf(error, size, "%s", text);
  }
}

// The C shims for one probe class. Every call is wrapped: no exception crosses the boundary.
//
// The probe class provides:
//   static constexpr const char* kTypeName, kDescription;
//   static std::vector<vigie::sdk::Field> schema();
//   static std::vector<vigie::sdk::Family> families();       // Sample::family indexes it
//   Probe(const Config&, const Host&);                        // throw to reject the config
//   void start(Completion done, std::chrono::milliseconds timeout);  // throw: UNKNOWN
//   void cancel();                                           // stop early, best effort
//   ~Probe();                                                // stop all work of the instance
template <typename Probe>
struct Adapter {
  struct Instance {
    Host host;
    Probe probe;
  };

  static const vigie_probe_type* type() noexcept {
    try {
      static const Storage storage;
      return &storage.type;
    } catch (...) {
      return nullptr;  // the agent reports the plugin as unusable
    }
  }

  static std::int32_t create(const vigie_host_api* host, const char* probe_name,
                             const vigie_kv* config, std::size_t count, void** instance,
                             char* error, std::size_t error_size) noexcept {
    try {
      Config parsed(probe_name != nullptr ? probe_name : "", config, count);
      *instance = new Instance{Host(host), Probe(parsed, Host(host))};
      return 0;
    } catch (const std::exception& e) {
      copyError(error, error_size, e.what());
    } catch (...) {
      copyError(error, error_size, "unknown exception while creating the probe");
    }
    return 1;
  }

  static void destroy(void* instance) noexcept { delete static_cast<Instance*>(instance); }

  static std::int32_t start(void* instance, std::int64_t timeout_ms, vigie_complete_fn complete,
                            void* op) noexcept {
    Completion done(complete, op);
    try {
      static_cast<Instance*>(instance)->probe.start(done, std::chrono::milliseconds(timeout_ms));
    } catch (const std::exception& e) {
      done(Result::unknown("plugin_error", std::string("exception in start: ") + e.what()));
    } catch (...) {
      done(Result::unknown("plugin_error", "unknown exception in start"));
    }
    return 0;
  }

  static void cancel(void* instance, void*) noexcept {
    auto* self = static_cast<Instance*>(instance);
    try {
      self->probe.cancel();
    } catch (const std::exception& e) {
      self->host.log(VIGIE_LOG_ERROR, std::string("exception in cancel: ") + e.what());
    } catch (...) {
      self->host.log(VIGIE_LOG_ERROR, "unknown exception in cancel");
    }
  }

  // The probe type and its schema as C structs, built once.
  struct Storage {
    std::vector<Field> fields = Probe::schema();
    std::vector<Family> families = Probe::families();
    std::vector<std::vector<const char*>> choices;
    std::vector<vigie_field> c_fields;
    std::vector<vigie_family> c_families;
    vigie_probe_type type{};

    Storage() {
      for (const Field& field : fields) {
        std::vector<const char*> names;
        for (const std::string& choice : field.choices) {
          names.push_back(choice.c_str());
        }
        choices.push_back(std::move(names));
      }
      for (std::size_t i = 0; i < fields.size(); ++i) {
        const Field& field = fields[i];
        c_fields.push_back(
            {field.key.c_str(), static_cast<std::int32_t>(field.type), field.required ? 1 : 0,
             field.default_value ? field.default_value->c_str() : nullptr, field.doc.c_str(),
             choices[i].empty() ? nullptr : choices[i].data(), choices[i].size()});
      }
      for (const Family& family : families) {
        c_families.push_back(
            {family.name.c_str(), family.help.c_str(), static_cast<std::int32_t>(family.type)});
      }
      type.struct_size = sizeof(vigie_probe_type);
      type.abi_major = VIGIE_PLUGIN_ABI_MAJOR;
      type.abi_minor = VIGIE_PLUGIN_ABI_MINOR;
      type.field_struct_size = sizeof(vigie_field);
      type.family_struct_size = sizeof(vigie_family);
      type.type_name = Probe::kTypeName;
      type.description = Probe::kDescription;
      type.fields = c_fields.data();
      type.field_count = c_fields.size();
      type.families = c_families.data();
      type.family_count = c_families.size();
      type.create = &Adapter::create;
      type.destroy = &Adapter::destroy;
      type.start = &Adapter::start;
      type.cancel = &Adapter::cancel;
    }
  };
};

}  // namespace detail
}  // namespace vigie::sdk

/// Exports the plugin's entry point for the probe class `ProbeClass`. Once per plugin.
#define VIGIE_PLUGIN(ProbeClass)                                             \
  extern "C" VIGIE_PLUGIN_EXPORT const vigie_probe_type* vigie_plugin_entry( \
      uint32_t host_abi_major) {                                             \
    return host_abi_major == VIGIE_PLUGIN_ABI_MAJOR                          \
               ? ::vigie::sdk::detail::Adapter<ProbeClass>::type()           \
               : nullptr;                                                    \
  }

#endif  // VIGIE_PLUGIN_SDK_HPP
