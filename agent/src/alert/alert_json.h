// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>

#include "alert/alert_state.h"

namespace vigie {

/// The persisted form of an alert state (JSON, versioned), and back; nothing on bad input.
std::string encodeAlertState(const AlertState& state);
std::optional<AlertState> decodeAlertState(const std::string& text);

}  // namespace vigie
