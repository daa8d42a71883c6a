// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace vigie::test {

/// A fact about the database servers started by tests/db/db_servers.sh (the `db` CTest
/// fixture), e.g. dbEnv("PG_PORT"). Fails the calling test when the servers are not running.
std::string dbEnv(const std::string& key);

}  // namespace vigie::test
