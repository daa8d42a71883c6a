// SPDX-License-Identifier: Apache-2.0
#include "db_env.h"

#include <fstream>
#include <map>
#include <stdexcept>

namespace vigie::test {

std::string dbEnv(const std::string& key) {
  static const std::map<std::string, std::string> values = [] {
    std::map<std::string, std::string> read;
    std::ifstream in(VIGIE_DB_ENV_FILE);
    for (std::string line; std::getline(in, line);) {
      const auto equals = line.find('=');
      if (equals != std::string::npos) {
        read[line.substr(0, equals)] = line.substr(equals + 1);
      }
    }
    return read;
  }();
  const auto found = values.find(key);
  if (found == values.end()) {
    throw std::runtime_error("no " + key +
                             " in " VIGIE_DB_ENV_FILE
                             ": start the servers with tests/db/db_servers.sh start FILE "
                             "(ctest does it through the db fixture)");
  }
  return found->second;
}

}  // namespace vigie::test
