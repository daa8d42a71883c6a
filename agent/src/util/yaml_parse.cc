// SPDX-License-Identifier: Apache-2.0
#include "util/yaml_parse.h"

#include <exception>
#include <thread>

namespace vigie {

YAML::Node parseYamlInOwnArena(const std::string& text) {
  YAML::Node root;
  std::exception_ptr parse_error;
  std::thread parser([&] {
    try {
      root = YAML::Load(text);
    } catch (...) {
      parse_error = std::current_exception();
    }
  });
  parser.join();
  if (parse_error) {
    std::rethrow_exception(parse_error);
  }
  return root;
}

}  // namespace vigie
