// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "forward/alert_db.h"
#include "forward/delivery.h"
#include "forward/forward_config.h"

namespace vigie {

/// Classifies an iTop answer: HTTP first, then the JSON `code` (the status is always 200).
Classified classifyItop(const HttpReply& reply, const nlohmann::json& body);

/// The `json_data` of each iTop operation the adapter uses (pure, tested).
nlohmann::json itopCreate(const ItopTarget& target, const nlohmann::json& event,
                          const std::string& comment, bool link_ci);
nlohmann::json itopLog(const ItopTarget& target, std::int64_t ticket, const std::string& message,
                       const std::string& comment);
nlohmann::json itopAutoresolve(const ItopTarget& target, std::int64_t ticket,
                               const std::string& solution, const std::string& comment);
nlohmann::json itopFindByMarker(const ItopTarget& target, const std::string& dedup_key);
nlohmann::json itopFindCi(const ItopTarget& target, const std::string& ci_name);

/// Delivers one canonical event to iTop (docs/ALERTING.md, iTop adapter): a ticket per key,
/// created once (looked up by its [VIGIE:key] title marker after an ambiguous create), updates
/// and the resolve as log entries or ev_autoresolve. Heartbeats are not sent to iTop.
asio::awaitable<Classified> deliverToItop(const ItopTarget& target, const std::string& url,
                                          const std::string& destination, AlertDb& db,
                                          const OutboxEvent& event, const std::string& agent);

}  // namespace vigie
