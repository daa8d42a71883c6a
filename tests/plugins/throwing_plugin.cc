// SPDX-License-Identifier: Apache-2.0
// A C++ plugin whose code throws: the SDK must stop every exception at the C boundary.
#include <stdexcept>
#include <vigie/plugin_sdk.hpp>

namespace {

class ThrowingProbe {
 public:
  static constexpr const char* kTypeName = "throwing";
  static constexpr const char* kDescription = "Throws from create or start";

  static std::vector<vigie::sdk::Family> families() { return {}; }

  static std::vector<vigie::sdk::Field> schema() {
    return {{"reject", vigie::sdk::FieldType::Bool, false, "false", "Throw from the constructor"}};
  }

  ThrowingProbe(const vigie::sdk::Config& config, const vigie::sdk::Host&) {
    if (config.getBool("reject")) {
      throw std::invalid_argument("this probe rejects every config");
    }
  }

  void start(vigie::sdk::Completion, std::chrono::milliseconds) {
    throw std::runtime_error("boom inside start");
  }

  void cancel() {}
};

}  // namespace

VIGIE_PLUGIN(ThrowingProbe)
