// SPDX-License-Identifier: Apache-2.0
#include "fuzz_files.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace vigie::fuzz {
namespace {

// Removed at exit; relative paths in the input (include, cert_file...) resolve inside it.
class Folder {
 public:
  Folder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vigie-fuzz-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : std::string("/nonexistent");
  }
  ~Folder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::string writeInput(const std::string& name, const std::uint8_t* data, std::size_t size) {
  static const Folder folder;
  const std::string path = folder.path() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace vigie::fuzz
