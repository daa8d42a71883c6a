// SPDX-License-Identifier: Apache-2.0
// type: file_age. CRITICAL when a file is missing or older than max_age: the classic check that a
// backup or an export ran. A complete plugin: schema, config checks, result, metric.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vigie/plugin_sdk.hpp>

namespace {

using vigie::sdk::Family;
using vigie::sdk::Field;
using vigie::sdk::FieldType;
using vigie::sdk::Result;

class FileAgeProbe {
 public:
  static constexpr const char* kTypeName = "file_age";
  static constexpr const char* kDescription = "Age of a file (backups, exports, heartbeats)";

  /// Indexes into families(), what a Sample refers to.
  enum Metric : std::uint32_t { kFileAge };

  static std::vector<Family> families() {
    return {{"file_age_seconds", "Seconds since the file was last modified"}};
  }

  static std::vector<Field> schema() {
    return {
        {"path", FieldType::String, true, {}, "File to check"},
        {"max_age", FieldType::Duration, false, "24h", "CRITICAL when the file is older"},
    };
  }

  FileAgeProbe(const vigie::sdk::Config& config, const vigie::sdk::Host& host)
      : path_(config.getString("path")), max_age_(config.getDuration("max_age")) {
    if (path_.empty() || path_.front() != '/') {
      throw std::invalid_argument("path must be absolute, got '" + path_ + "'");
    }
    host.log(VIGIE_LOG_DEBUG, "watching " + path_);
  }

  // Quick enough to answer at once; a plugin doing I/O would start it here and call `done` from
  // its own thread or event loop later.
  void start(vigie::sdk::Completion done, std::chrono::milliseconds /*timeout*/) {
    struct stat info {};
    if (::stat(path_.c_str(), &info) != 0) {
      done(Result::critical("missing", "cannot stat " + path_ + ": " + std::strerror(errno)));
      return;
    }
    const double age = std::difftime(std::time(nullptr), info.st_mtime);
    Result result =
        age * 1000 > static_cast<double>(max_age_.count())
            ? Result::critical("too_old",
                               path_ + " is " + std::to_string(static_cast<long>(age)) + "s old")
            : Result::ok(path_ + " is " + std::to_string(static_cast<long>(age)) + "s old");
    result.samples.push_back({kFileAge, age});
    done(result);
  }

  void cancel() {}

 private:
  std::string path_;
  std::chrono::milliseconds max_age_;
};

}  // namespace

VIGIE_PLUGIN(FileAgeProbe)
